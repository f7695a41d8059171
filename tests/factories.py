"""Builders for the objects tests need. Status changes still go through transitions.py."""

from __future__ import annotations

from banks.models import Bank
from operations.states import OperationType
from operations.submission import submit


def make_bank(bank_id: str = "alpha") -> Bank:
    return Bank.objects.get_or_create(bank_id=bank_id, defaults={"name": bank_id})[0]


def items(n: int, prefix: str = "memory", size: int = 0) -> list[dict]:
    pad = "x" * size
    return [{"content": f"{prefix} {i} {pad}".strip()} for i in range(n)]


def submit_retain(bank: Bank, n: int = 10, dispatch: bool = False, **kwargs):
    """A pending batch_retain of ``n`` items; not dispatched unless asked."""
    return submit(
        bank, OperationType.BATCH_RETAIN, {"contents": items(n)}, dispatch=dispatch, **kwargs
    ).operation
