"""Put operations into a given state for operator-surface tests, through legal transitions only
(the same compare-and-set functions the runner and the API use)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from operations import transitions
from operations.models import Operation, OperationItemFailure
from operations.states import OperationStatus

S = OperationStatus


def walk_to(op: Operation, status: str, worker_id: str = "test-worker") -> Operation:
    """Move a pending operation to ``status``; returns it re-read."""
    if status != S.PENDING:
        if status == S.CANCELLED:
            transitions.cancel(op.pk)
        else:
            assert transitions.claim(op.pk, worker_id)
            if status == S.COMPLETED:
                assert transitions.complete(op.pk, worker_id)
            elif status == S.FAILED:
                assert transitions.fail(op.pk, worker_id, "boom", "RuntimeError")
    return Operation.objects.get(pk=op.pk)


def backdate(op: Operation, when: datetime) -> None:
    """Age an operation's timeline (timestamps only; status untouched)."""
    changes: dict[str, object] = {"created_at": when}
    current = Operation.objects.get(pk=op.pk)
    if current.started_at is not None:
        changes["started_at"] = when
    if current.completed_at is not None:
        changes["completed_at"] = when
    Operation.objects.filter(pk=op.pk).update(**changes)


def status_of(op: Operation) -> str:
    return Operation.objects.values_list("status", flat=True).get(pk=op.pk)


def record_failed_item(op: Operation, index: int, error: str, worker_id: str = "test-worker"):
    """What the runner does for a bad item: the failure row and the count, in one chunk commit."""
    with transaction.atomic():
        OperationItemFailure.objects.create(operation=op, index=index, error=error)
        assert transitions.commit_progress(op.pk, worker_id, 1, failed=1)


def advance(op: Operation, units: int, worker_id: str = "test-worker") -> Operation:
    """Commit ``units`` of progress for a running operation, as the runner's chunk does."""
    with transaction.atomic():
        assert transitions.commit_progress(op.pk, worker_id, units, stage="retaining")
    return Operation.objects.get(pk=op.pk)
