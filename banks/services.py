"""Bank and memory workflows shared by every surface (native API, compatible API, admin,
commands)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from operations import transitions
from operations.exceptions import BankNotFound
from operations.models import Operation
from operations.states import OperationStatus

from . import entities
from .models import Bank, Memory

BANK_ID_RE = re.compile(r"^[^\s/\\][^\x00-\x1f]{0,127}$")


def validate_bank_id(bank_id: str) -> str:
    if not isinstance(bank_id, str) or not BANK_ID_RE.match(bank_id) or bank_id != bank_id.strip():
        raise ValidationError(
            {"bank_id": ["1-128 characters, no control characters or surrounding spaces."]}
        )
    return bank_id


def get_bank(bank_id: str, visible: Iterable[Bank] | None = None) -> Bank:
    """The bank, or ``BankNotFound``. ``visible`` is a queryset the caller may see."""
    query = visible if visible is not None else Bank.objects.all()
    try:
        return query.get(bank_id=bank_id)
    except Bank.DoesNotExist:
        raise BankNotFound(bank_id) from None


def get_or_create_bank(bank_id: str) -> Bank:
    """Banks are created on first retain; concurrent first retains must not collide."""
    validate_bank_id(bank_id)
    bank = Bank.objects.filter(bank_id=bank_id).first()
    if bank is not None:
        return bank
    try:
        with transaction.atomic():
            return Bank.objects.create(bank_id=bank_id, name=bank_id)
    except IntegrityError:
        return Bank.objects.get(bank_id=bank_id)


def create_bank(bank_id: str, name: str = "", mission: str = "") -> tuple[Bank, bool]:
    validate_bank_id(bank_id)
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


def store_memories(memories: list[Memory]) -> None:
    """Persist a chunk of memories with their entities (inside the caller's chunk transaction,
    so memories, entities and their full-text index rows commit together or not at all).

    This is the ingest hot path, so it inserts with ``executemany`` (``COPY`` on PostgreSQL)
    instead of ``bulk_create``: Django's per-field preparation costs more than SQLite's insert
    itself (bench/ingest.py).
    Values are still adapted by the backend's own ``adapt_*`` operations, so both SQLite and
    PostgreSQL get exactly what the ORM would have sent.
    """
    if not memories:
        return
    mentions = entities.prepare_mentions(memories)  # sets entity_count before the insert
    now = timezone.now()
    converters = _memory_converters()
    rows = []
    for memory in memories:
        if memory.created_at is None:
            memory.created_at = now
        rows.append([convert(getattr(memory, attname)) for attname, convert in converters])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams the whole chunk in one round trip: several times faster than one
            # INSERT per row, and faster than multi-row INSERTs (bench/ingest_rq.py).
            with cursor.copy(_memory_copy_sql()) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(_memory_insert_sql(), rows)
    entities.link_mentions(memories, mentions)


def _identity(value: object) -> object:
    return value


def _memory_converters() -> list[tuple[str, object]]:
    ops, features = connection.ops, connection.features

    def uuid_value(value: object) -> object:
        if value is None or features.has_native_uuid_field:
            return value
        return value.hex

    def json_value(value: object) -> object:
        return ops.adapt_json_value(value, None)

    by_type = {
        "UUIDField": uuid_value,
        "ForeignKey": None,  # resolved below to the target's type
        "DateTimeField": ops.adapt_datetimefield_value,
        "JSONField": json_value,
    }
    converters = []
    for field in Memory._meta.concrete_fields:
        kind = field.get_internal_type()
        if kind == "ForeignKey":
            kind = field.target_field.get_internal_type()
        converters.append((field.attname, by_type.get(kind) or _identity))
    return converters


def _memory_insert_sql() -> str:
    qn = connection.ops.quote_name
    fields = Memory._meta.concrete_fields
    columns = ", ".join(qn(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {qn(Memory._meta.db_table)} ({columns}) VALUES ({placeholders})"


def _memory_copy_sql() -> str:
    qn = connection.ops.quote_name
    columns = ", ".join(qn(field.column) for field in Memory._meta.concrete_fields)
    return f"COPY {qn(Memory._meta.db_table)} ({columns}) FROM STDIN"


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
