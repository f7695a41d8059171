"""Graph links: each memory is linked to the memories that share entities with it.

Weight of the link a -> b (cosine of the two entity sets):

    weight = |E(a) & E(b)| / sqrt(|E(a)| * |E(b)|)

where ``E(m)`` is the set of entities memory ``m`` mentions (``Memory.entity_count`` is its
size). It is 1.0 for two memories mentioning exactly the same entities and falls as either
mentions other things. Entities mentioned by more than ``HINDSIGHT_GRAPH_MAX_FANOUT`` memories
do not create links (they still count in ``|E|``): linking every pair of their memories would be
quadratic and says little. Each memory keeps its ``top_k`` links by weight (ties: more shared
entities, then target id), replacing the ones an earlier run wrote, so a re-run is idempotent.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from .bulk import insert_rows
from .models import Entity, Memory, MemoryEntity, MemoryLink

_IN_BATCH = 500
MAX_CACHED_POSTINGS = 5_000_000  # ~ a few hundred MB at most; cleared when exceeded


@dataclass
class LinkCache:
    """What one run learns and reuses across chunks: each entity's memories ("postings", with
    the memory's entity count), fan-out and display name. Postings are read once per entity per
    run instead of once per memory mentioning it; memories retained after they were read are
    outside the run's scope anyway (see ``banks.jobs.graph_update``)."""

    max_fanout: int
    fanout: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    postings: dict[int, list[Any]] = field(default_factory=dict)
    sizes: dict[Any, int] = field(default_factory=dict)
    cached: int = 0


def link_memories(bank_pk: int, memory_ids: Sequence[Any], top_k: int, cache: LinkCache,
                  operation: Any = None) -> int:
    """Replace the outgoing links of ``memory_ids``; returns how many links were written.

    Memory ids are handled in the database's own representation (raw SQL, no model or UUID
    object per row): this loop sees every (entity, memory) pair of the bank's neighbourhoods.
    """
    pk_field = Memory._meta.pk
    sources = [pk_field.get_db_prep_value(memory_id, connection) for memory_id in memory_ids]
    own: dict[Any, list[int]] = defaultdict(list)
    for memory_id, entity_id in _rows(
        f"SELECT memory_id, entity_id FROM {MemoryEntity._meta.db_table} "
        "WHERE memory_id IN ({marks}) ORDER BY memory_id, position", sources,
    ):
        own[memory_id].append(entity_id)
    _learn(cache, {e for entities in own.values() for e in entities})
    now = timezone.now()
    operation_id = operation.pk if operation is not None else None
    links: list[tuple] = []
    for source_id in sources:
        entities = own.get(source_id, [])
        linkable = [e for e in entities if 1 < cache.fanout.get(e, 0) <= cache.max_fanout]
        counts: Counter = Counter()
        for entity_id in linkable:
            counts.update(cache.postings[entity_id])
        counts.pop(source_id, None)
        if not counts:
            continue
        size, sizes = len(entities), cache.sizes
        best = heapq.nsmallest(top_k, counts.items(), key=lambda item: (
            -item[1] / math.sqrt(size * max(sizes[item[0]], 1)), -item[1], item[0]))
        for target_id, shared in best:
            common = [e for e in linkable if target_id in cache.postings[e]]
            weight = round(shared / math.sqrt(size * max(sizes[target_id], 1)), 6)
            links.append((bank_pk, source_id, target_id, weight, _names(cache, common),
                          operation_id, now))
    MemoryLink.objects.filter(source_id__in=list(memory_ids)).delete()
    return insert_rows(MemoryLink, ("bank", "source", "target", "weight", "shared_entities",
                                    "operation", "created_at"), links)


def _rows(sql: str, values: list) -> Iterator[tuple]:
    with connection.cursor() as cursor:
        for start in range(0, len(values), _IN_BATCH):
            batch = values[start : start + _IN_BATCH]
            cursor.execute(sql.format(marks=", ".join(["%s"] * len(batch))), batch)
            yield from cursor.fetchall()


def _learn(cache: LinkCache, entity_ids: set[int]) -> None:
    """Read fan-out, names and (for linkable entities) postings of entities not seen yet."""
    unknown = sorted(entity_ids - cache.fanout.keys())
    if not unknown:
        return
    if cache.cached > MAX_CACHED_POSTINGS:
        cache.postings.clear()
        cache.sizes.clear()
        cache.fanout.clear()
        cache.cached = 0
        unknown = sorted(entity_ids)
    for entity_id, count in _rows(
        f"SELECT entity_id, COUNT(*) FROM {MemoryEntity._meta.db_table} "
        "WHERE entity_id IN ({marks}) GROUP BY entity_id", unknown,
    ):
        cache.fanout[entity_id] = count
    cache.names.update(Entity.objects.filter(pk__in=unknown).values_list("id", "display_name"))
    wanted = [e for e in unknown if 1 < cache.fanout.get(e, 0) <= cache.max_fanout]
    for entity_id in wanted:
        cache.postings[entity_id] = []
    for entity_id, memory_id, entity_count in _rows(
        f"SELECT me.entity_id, me.memory_id, m.entity_count "
        f"FROM {MemoryEntity._meta.db_table} me "
        f"JOIN {Memory._meta.db_table} m ON m.id = me.memory_id "
        "WHERE me.entity_id IN ({marks})", wanted,
    ):
        cache.postings[entity_id].append(memory_id)
        cache.sizes[memory_id] = entity_count
        cache.cached += 1


def _names(cache: LinkCache, entity_ids: list[int]) -> list[str]:
    return sorted(cache.names[e] for e in entity_ids)
