"""Observation synthesis: one deterministic summary per entity, from the memories that mention
it (no model, no randomness: the same memories always give the same text).

For each entity:
- ``mention_count``: memories that mention it;
- ``first_seen`` / ``last_seen``: earliest and latest "seen" time of those memories, where a
  memory is seen at its event ``timestamp``, or when it was retained if it has none;
- ``co_mentions``: the ``TOP_CO_MENTIONS`` entities most often mentioned in the same memories
  (count descending, then name);
- ``snippets``: the ``SNIPPETS`` most representative of its ``RECENT_CANDIDATES`` most recent
  memories -- representative = mentions the most of its top co-mentioned entities; ties go to
  the more recent -- shown newest first, cut to ``SNIPPET_CHARS``;
- ``text``: those facts as one paragraph.
Writing replaces the entity's previous observation (delete + insert in the caller's
transaction), so a re-run never duplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, Max, Min, Window
from django.db.models.functions import Coalesce, RowNumber

from .models import Entity, MemoryEntity, Observation

TOP_CO_MENTIONS = 5
RECENT_CANDIDATES = 10
SNIPPETS = 3
SNIPPET_CHARS = 160


def regenerate(entity_ids: Sequence[int], operation: Any = None) -> int:
    """Write (replacing) the observations of ``entity_ids``; returns how many were written."""
    entities = Entity.objects.in_bulk(list(entity_ids))
    if not entities:
        return 0
    ids = list(entities)
    stats = {
        row["entity_id"]: row
        for row in MemoryEntity.objects.filter(entity_id__in=ids)
        .annotate(seen=Coalesce("memory__timestamp", "memory__created_at"))
        .values("entity_id")
        .annotate(n=Count("memory_id"), first=Min("seen"), last=Max("seen"))
        .order_by()
    }
    co_mentions = _co_mentions(ids)
    snippets = _snippets(ids, co_mentions)
    observations = []
    for entity_id in ids:
        entity = entities[entity_id]
        row = stats.get(entity_id, {"n": 0, "first": None, "last": None})
        co = co_mentions.get(entity_id, [])
        chosen = snippets.get(entity_id, [])
        observations.append(Observation(
            entity=entity, bank_id=entity.bank_id, operation=operation,
            text=_text(entity, row["n"], row["first"], row["last"], co, chosen),
            mention_count=row["n"], first_seen=row["first"], last_seen=row["last"],
            co_mentions=co, snippets=chosen,
        ))
    Observation.objects.filter(entity_id__in=ids).delete()
    Observation.objects.bulk_create(observations)
    return len(observations)


def _co_mentions(ids: list[int]) -> dict[int, list[dict]]:
    table = MemoryEntity._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.entity_id, b.entity_id, COUNT(*) FROM {table} a "
            f"JOIN {table} b ON b.memory_id = a.memory_id AND b.entity_id <> a.entity_id "
            f"WHERE a.entity_id IN ({marks}) GROUP BY a.entity_id, b.entity_id",
            ids,
        )
        rows = cursor.fetchall()
    names = dict(Entity.objects.filter(pk__in={row[1] for row in rows})
                 .values_list("id", "display_name"))
    by_entity: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for entity_id, other_id, count in rows:
        by_entity[entity_id].append((other_id, names[other_id], count))
    return {
        entity_id: [{"entity_id": other_id, "name": name, "count": count}
                    for other_id, name, count in sorted(found, key=lambda r: (-r[2], r[1]))
                    [:TOP_CO_MENTIONS]]
        for entity_id, found in by_entity.items()
    }


def _snippets(ids: list[int], co_mentions: dict[int, list[dict]]) -> dict[int, list[dict]]:
    seen = Coalesce("memory__timestamp", "memory__created_at")
    recent = list(
        MemoryEntity.objects.filter(entity_id__in=ids)
        .annotate(
            seen=seen,
            rank=Window(RowNumber(), partition_by=[F("entity_id")],
                        order_by=[seen.desc(), F("memory_id").desc()]),
        )
        .filter(rank__lte=RECENT_CANDIDATES)
        .values("entity_id", "memory_id", "seen", "memory__content")
    )
    mentioned: dict[Any, set[int]] = defaultdict(set)
    for memory_id, entity_id in MemoryEntity.objects.filter(
        memory_id__in={row["memory_id"] for row in recent}
    ).values_list("memory_id", "entity_id"):
        mentioned[memory_id].add(entity_id)
    candidates: dict[int, list[dict]] = defaultdict(list)
    for row in recent:
        candidates[row["entity_id"]].append(row)
    chosen: dict[int, list[dict]] = {}
    for entity_id, rows in candidates.items():
        top = {co["entity_id"] for co in co_mentions.get(entity_id, [])}
        rows.sort(key=lambda r: (len(top & mentioned[r["memory_id"]]), r["seen"],
                                 str(r["memory_id"])), reverse=True)
        best = sorted(rows[:SNIPPETS], key=lambda r: (r["seen"], str(r["memory_id"])),
                      reverse=True)
        chosen[entity_id] = [
            {"memory_id": str(r["memory_id"]), "text": _cut(r["memory__content"]),
             "seen_at": _iso(r["seen"])}
            for r in best
        ]
    return chosen


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _text(entity: Entity, count: int, first: datetime | None, last: datetime | None,
          co: list[dict], snippets: list[dict]) -> str:
    if not count:
        return f"{entity.display_name} is not mentioned in any memory."
    noun = "memory" if count == 1 else "memories"
    parts = [f"{entity.display_name} is mentioned in {count} {noun}"]
    if first and last and first.date() != last.date():
        parts[0] += f", first on {first:%Y-%m-%d} and last on {last:%Y-%m-%d}."
    elif first:
        parts[0] += f", on {first:%Y-%m-%d}."
    if co:
        parts.append("Most often mentioned with: "
                     + ", ".join(f"{c['name']} ({c['count']})" for c in co) + ".")
    if snippets:
        parts.append("Representative recent mentions: "
                     + "; ".join(f"\"{s['text']}\"" for s in snippets) + ".")
    return " ".join(parts)
