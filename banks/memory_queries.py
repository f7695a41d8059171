"""Read queries over banks, memories and entities shared by the native and compatible listings
and the compatible bank stats, so both surfaces filter the same way."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Max, Q, QuerySet

from .entities import normalise
from .models import Bank, Entity, Memory, MemoryLink
from .tags import with_tags


def banks_matching(banks: QuerySet[Bank], text: str | None = None) -> QuerySet[Bank]:
    """``banks`` (already narrowed to what the caller may see) by id, narrowed by a
    case-insensitive substring of the bank id or name."""
    if text:
        banks = banks.filter(Q(bank_id__icontains=text) | Q(name__icontains=text))
    return banks.order_by("bank_id")


def entities_named(entities: QuerySet[Entity], text: str | None) -> QuerySet[Entity]:
    """``entities`` narrowed to names containing ``text`` (normalised as names are)."""
    if text and normalise(text):
        entities = entities.filter(name__contains=normalise(text))
    return entities


def memories_with_text(memories: QuerySet[Memory], text: str | None) -> QuerySet[Memory]:
    """``memories`` narrowed by a case-insensitive substring of the content or context."""
    if text:
        memories = memories.filter(Q(content__icontains=text) | Q(context__icontains=text))
    return memories


def memories_matching(
    bank: Bank,
    *,
    text: str | None = None,
    document_id: str | None = None,
    tags: list[str] | None = None,
    tags_match: str = "all",
    entity_id: str | None = None,
) -> QuerySet[Memory]:
    """The bank's memories, newest first, narrowed by a case-insensitive substring of the
    content or context, a document id, tags and an entity they mention (stored links)."""
    memories = memories_with_text(Memory.objects.filter(bank=bank).select_related("bank"), text)
    if document_id:
        memories = memories.filter(document_id=document_id)
    # Exact, case-sensitive tag matching on both database backends (banks.tags).
    memories = with_tags(memories, tags or [], match=tags_match)
    if entity_id is not None:
        if not entity_id.isdigit():
            return memories.none()  # entity ids are integers; any other id names no entity
        memories = memories.filter(entity_links__entity_id=int(entity_id))
    # A chunk's memories share one created_at (stored in one statement); the item index keeps
    # "newest first" meaning "last submitted first" inside it, and stable across pages.
    return memories.order_by("-created_at", "-item_index", "-id")


def document_count(bank: Bank) -> int:
    return (
        Memory.objects.filter(bank=bank, document_id__isnull=False)
        .values("document_id").distinct().count()
    )


def last_writes(bank_pks: Iterable[int]) -> dict[int, datetime]:
    """When each bank last had a memory stored (one grouped query for a page of banks)."""
    rows = (
        Memory.objects.filter(bank_id__in=list(bank_pks))
        .values("bank_id").annotate(last=Max("created_at")).order_by()
    )
    return {row["bank_id"]: row["last"] for row in rows}


def link_count(bank: Bank) -> int:
    """Links ``graph_update`` wrote between the bank's memories."""
    return MemoryLink.objects.filter(bank=bank).count()
