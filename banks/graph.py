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

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone

from .bulk import insert_rows
from .models import Entity, MemoryEntity, MemoryLink

_IN_BATCH = 500


@dataclass
class LinkCache:
    """What one run learns and reuses across chunks: entity fan-out and display names."""

    max_fanout: int
    fanout: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


def link_memories(bank_pk: int, memory_ids: Sequence[Any], top_k: int, cache: LinkCache,
                  operation: Any = None) -> int:
    """Replace the outgoing links of ``memory_ids``; returns how many links were written."""
    own: dict[Any, list[int]] = defaultdict(list)
    for memory_id, entity_id in MemoryEntity.objects.filter(
        memory_id__in=list(memory_ids)
    ).values_list("memory_id", "entity_id"):
        own[memory_id].append(entity_id)
    _learn_fanout(cache, {e for entities in own.values() for e in entities})
    linkable = {e for entities in own.values() for e in entities
                if 1 < cache.fanout.get(e, 0) <= cache.max_fanout}
    postings: dict[int, list[tuple[Any, int]]] = defaultdict(list)
    for batch in _batches(sorted(linkable)):
        rows = MemoryEntity.objects.filter(entity_id__in=batch).values_list(
            "entity_id", "memory_id", "memory__entity_count")
        for entity_id, memory_id, entity_count in rows:
            postings[entity_id].append((memory_id, entity_count))
    links: list[tuple] = []
    now = timezone.now()
    operation_id = operation.pk if operation is not None else None
    for source_id in memory_ids:
        source_entities = own.get(source_id, [])
        shared: dict[Any, list[int]] = defaultdict(list)
        sizes: dict[Any, int] = {}
        for entity_id in source_entities:
            for target_id, entity_count in postings.get(entity_id, ()):
                if target_id != source_id:
                    shared[target_id].append(entity_id)
                    sizes[target_id] = entity_count
        scored = sorted(
            ((round(len(common) / math.sqrt(len(source_entities) * max(sizes[t], 1)), 6),
              len(common), str(t), t, common) for t, common in shared.items()),
            key=lambda s: (-s[0], -s[1], s[2]),
        )[:top_k]
        links.extend(
            (bank_pk, source_id, target_id, weight, _names(cache, common), operation_id, now)
            for weight, _, _, target_id, common in scored
        )
    MemoryLink.objects.filter(source_id__in=list(memory_ids)).delete()
    return insert_rows(MemoryLink, ("bank", "source", "target", "weight", "shared_entities",
                                    "operation", "created_at"), links)


def _batches(values: list) -> Iterator[list]:
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


def _learn_fanout(cache: LinkCache, entity_ids: set[int]) -> None:
    unknown = sorted(entity_ids - cache.fanout.keys())
    for batch in _batches(unknown):
        counts = (MemoryEntity.objects.filter(entity_id__in=batch).values("entity_id")
                  .annotate(n=Count("id")).order_by())
        cache.fanout.update({row["entity_id"]: row["n"] for row in counts})
        names = Entity.objects.filter(pk__in=batch).values_list("id", "display_name")
        cache.names.update(names)


def _names(cache: LinkCache, entity_ids: list[int]) -> list[str]:
    return sorted(cache.names[e] for e in entity_ids)
