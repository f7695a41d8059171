"""Bank and memory workflows shared by every surface (native API, compatible API, admin,
commands)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from operations import transitions
from operations.exceptions import InvalidInput
from operations.models import Operation
from operations.states import OperationStatus

from . import bulk, entities
from .bank_ids import InvalidBankId, validate_bank_id
from .exceptions import BankNotFound
from .items import NewMemory
from .models import Bank, Memory


def checked_bank_id(bank_id: str) -> str:
    """``bank_id`` if valid, else ``InvalidInput`` naming the field."""
    try:
        return validate_bank_id(bank_id)
    except InvalidBankId as exc:
        raise InvalidInput({"bank_id": [str(exc)]}) from None


def get_bank(bank_id: str, visible: Iterable[Bank] | None = None) -> Bank:
    """The bank, or ``BankNotFound``. ``visible`` is a queryset the caller may see."""
    query = visible if visible is not None else Bank.objects.all()
    try:
        return query.get(bank_id=bank_id)
    except Bank.DoesNotExist:
        raise BankNotFound(bank_id) from None


def get_or_create_bank(bank_id: str) -> Bank:
    """Banks are created on first retain; concurrent first retains must not collide."""
    checked_bank_id(bank_id)
    bank = Bank.objects.filter(bank_id=bank_id).first()
    if bank is not None:
        return bank
    try:
        with transaction.atomic():
            return Bank.objects.create(bank_id=bank_id, name=bank_id)
    except IntegrityError:
        return Bank.objects.get(bank_id=bank_id)


def create_bank(bank_id: str, name: str = "", mission: str = "") -> tuple[Bank, bool]:
    checked_bank_id(bank_id)
    bank, created = Bank.objects.get_or_create(
        bank_id=bank_id, defaults={"name": name or bank_id, "mission": mission}
    )
    return bank, created


def update_bank(bank: Bank, **fields: str) -> Bank:
    changed = [name for name, value in fields.items() if value is not None]
    for name in changed:
        setattr(bank, name, fields[name])
    if changed:
        bank.save(update_fields=[*changed, "updated_at"])
    return bank


def delete_bank(bank: Bank) -> int:
    """Cancel the bank's active operations first (so no worker commits into a deleted bank),
    then delete its memories and operation records. Returns the number of memories deleted."""
    transitions.cancel_many(Q(bank=bank))
    count = Memory.objects.filter(bank=bank).count()
    bank.delete()
    return count


# Every concrete column of ``Memory``, in the order of ``memory_rows``' row tuples
# (tests/banks/test_store.py checks that no column is missing).
MEMORY_COLUMNS = (
    "id", "bank", "content", "context", "timestamp", "metadata", "tags", "document_id",
    "operation", "item_index", "entity_count", "created_at",
)


@dataclass(frozen=True)
class MemoryRows:
    """A chunk of memories as the database will receive them, with their entity mentions."""

    ids: list[Any]  # as stored (banks.bulk.uuid_adapter)
    rows: list[tuple]  # in MEMORY_COLUMNS order
    mentions: list[list[entities.Mention]]


def memory_rows(bank_pk: int, operation_id: uuid.UUID | None,
                memories: Sequence[NewMemory]) -> MemoryRows:
    """Extract entities and build the insert rows: pure Python, no query, so the retain job
    runs it before its chunk transaction (``Job.prepare_chunk``)."""
    adapt_datetime = connection.ops.adapt_datetimefield_value
    db_uuid = bulk.uuid_adapter()
    created_at = adapt_datetime(timezone.now())
    operation = db_uuid(operation_id)
    mentions = [entities.mentions_for(m.content, m.entities) for m in memories]
    ids = [db_uuid(m.id) for m in memories]
    rows = [
        (memory_id, bank_pk, m.content, m.context,
         adapt_datetime(m.timestamp) if m.timestamp is not None else None,
         bulk.json_text(m.metadata), bulk.json_text(m.tags), m.document_id, operation,
         m.item_index, len(found), created_at)
        for memory_id, m, found in zip(ids, memories, mentions, strict=True)
    ]
    return MemoryRows(ids, rows, mentions)


def insert_memories(bank_pk: int, batch: MemoryRows,
                    known_entities: dict[str, int] | None = None) -> None:
    """Persist a chunk of memories with their entities, inside the caller's chunk transaction
    (memories, entities and their full-text index rows commit together or not at all).
    ``known_entities``: see ``banks.entities.link_mentions``.

    This is the ingest hot path: plain tuples through ``banks.bulk.insert_rows`` (multi-row
    ``INSERT`` on SQLite, ``COPY`` on PostgreSQL), not ``bulk_create`` -- Django's per-instance
    and per-field work costs more than SQLite's insert itself (bench/ingest.py).
    """
    if batch.rows:
        bulk.insert_rows(Memory, MEMORY_COLUMNS, batch.rows, adapted=True)
        entities.link_mentions(bank_pk, batch.ids, batch.mentions, known_entities)


def store_memories(bank_pk: int, operation_id: uuid.UUID | None,
                   memories: Sequence[NewMemory]) -> None:
    """``memory_rows`` then ``insert_memories``, for callers with nothing to do in between."""
    insert_memories(bank_pk, memory_rows(bank_pk, operation_id, memories))


def bank_stats(bank_pks: list[int]) -> dict[int, dict]:
    """Memory count and operation counts by status for several banks, in two queries."""
    stats = {
        pk: {"memory_count": 0, "operations": dict.fromkeys(OperationStatus.values, 0)}
        for pk in bank_pks
    }
    memory_counts = (
        Memory.objects.filter(bank_id__in=bank_pks).values("bank_id").annotate(n=Count("id"))
    )
    for row in memory_counts:
        stats[row["bank_id"]]["memory_count"] = row["n"]
    rows = (
        Operation.objects.filter(bank_id__in=bank_pks)
        .values("bank_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        stats[row["bank_id"]]["operations"][row["status"]] = row["n"]
    return stats
