"""Bank and memory workflows shared by every surface (native API, compatible API, admin,
commands)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
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
    so memories, entities and their full-text index rows commit together or not at all)."""
    mentions = entities.prepare_mentions(memories)
    Memory.objects.bulk_create(memories, batch_size=500)
    entities.link_mentions(memories, mentions)


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
