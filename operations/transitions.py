"""Every change of an operation's status, progress or ownership, each one compare-and-set.

Each function is a single ``UPDATE ... WHERE id = ? AND status IN (allowed)``; the row count
decides who won. A lost race is never retried blindly: the caller re-reads and reports the
current state (the API turns it into 409). Nothing here reads a status and then writes it
unconditionally, and nothing outside this module writes ``status``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import webhooks
from .exceptions import InvalidTransition, OperationNotFound
from .models import Operation
from .states import ACTIVE, ALLOWED_FROM, RETRYABLE, TERMINAL, OperationStatus

S = OperationStatus


def _cas(operation_id: object, to: str, from_states: Iterable[str], **changes: object) -> int:
    """Move one operation to ``to`` if it is in one of ``from_states``; return rows changed."""
    allowed = frozenset(from_states)
    assert allowed <= ALLOWED_FROM[to], f"{sorted(allowed)} -> {to} is not in the state table"
    extra = changes.pop("where", None)
    query = Operation.objects.filter(pk=operation_id, status__in=allowed)
    if extra is not None:
        query = query.filter(extra)
    # In a transaction so that on SQLite it queues fairly behind running chunks (see
    # hindsight_project.sqlite_backend); a no-op wrapper on PostgreSQL.
    with transaction.atomic():
        changed = query.update(status=to, updated_at=timezone.now(), **changes)
        if changed and to in TERMINAL:
            webhooks.record_terminal([operation_id])  # the outbox commits with the state
        return changed


def _current_status(operation_id: object, bank_pk: int | None = None) -> str:
    query = Operation.objects.filter(pk=operation_id)
    if bank_pk is not None:
        query = query.filter(bank_id=bank_pk)
    status = query.values_list("status", flat=True).first()
    if status is None:
        raise OperationNotFound(operation_id)
    return status


# --- Worker side --------------------------------------------------------------------------------


def claim(operation_id: object, worker_id: str) -> bool:
    """``pending -> running`` for ``worker_id``. False when someone else got there first, or the
    operation was cancelled before it started (then it must never start)."""
    now = timezone.now()
    return bool(
        _cas(
            operation_id,
            S.RUNNING,
            {S.PENDING},
            worker_id=worker_id,
            heartbeat_at=now,
            started_at=Coalesce(F("started_at"), now),
            attempt=F("attempt") + 1,
        )
    )


def _owned(operation_id: object, worker_id: str):
    return Operation.objects.filter(pk=operation_id, status=S.RUNNING, worker_id=worker_id)


def commit_progress(
    operation_id: object, worker_id: str, units: int, failed: int = 0, stage: str | None = None
) -> bool:
    """Count ``units`` more as done, inside the caller's transaction that wrote their results.

    Matches only while the operation is running and owned by ``worker_id``; False means it was
    cancelled or taken over, and the caller must roll its chunk back.
    """
    assert connection.in_atomic_block, "progress must commit with the results it counts"
    now = timezone.now()
    changes: dict[str, object] = {
        "progress": F("progress") + units,
        "failed_items_count": F("failed_items_count") + failed,
        "heartbeat_at": now,
        "updated_at": now,
    }
    if stage is not None:
        changes["stage"] = stage
    return bool(_owned(operation_id, worker_id).update(**changes))


def heartbeat(operation_id: object, worker_id: str) -> bool:
    """Prove liveness inside a slow chunk. Leaves ``updated_at`` alone so that long-polling
    clients are not woken by a heartbeat that changed nothing they can see."""
    with transaction.atomic():
        return bool(_owned(operation_id, worker_id).update(heartbeat_at=timezone.now()))


def complete(
    operation_id: object, worker_id: str, summary: dict | None = None, stage: str = "done",
    rendering: str | None = None,
) -> bool:
    """``running -> completed``; ``rendering`` is the detail result as JSON text, stored with
    the transition so polls serve it as is (it can no longer change)."""
    return bool(
        _cas(
            operation_id,
            S.COMPLETED,
            {S.RUNNING},
            where=Q(worker_id=worker_id),
            completed_at=timezone.now(),
            summary=summary,
            stage=stage,
            result_rendering=rendering,
        )
    )


def store_rendering(operation_id: object, updated_at: datetime, rendering: str) -> bool:
    """Keep the rendering of a terminal operation's result that a reader made (terminal states
    other than ``completed`` are rendered on first read). Only while the row is still the version
    it was rendered from; ``updated_at`` stays, so the ``ETag`` does not change."""
    with transaction.atomic():
        return bool(Operation.objects.filter(
            pk=operation_id, status__in=TERMINAL, updated_at=updated_at,
            result_rendering__isnull=True,
        ).update(result_rendering=rendering))


def fail(operation_id: object, worker_id: str, error: str, error_type: str = "") -> bool:
    return bool(
        _cas(
            operation_id,
            S.FAILED,
            {S.RUNNING},
            where=Q(worker_id=worker_id),
            completed_at=timezone.now(),
            error=error[:10_000],
            error_type=error_type[:200],
        )
    )


# --- User side ----------------------------------------------------------------------------------


def cancel(operation_id: object, bank_pk: int | None = None, *, strict: bool = False) -> str:
    """``pending|running -> cancelled``. Returns the resulting status.

    Cancelling a cancelled operation is a no-op (``strict=True``: ``InvalidTransition``, as the
    Hindsight-compatible surface answers 409 for it); a completed or failed one raises
    ``InvalidTransition``. Once this returns, the worker's next progress commit matches no row,
    so nothing more of the operation is ever committed.
    """
    where = Q(bank_id=bank_pk) if bank_pk is not None else None
    if _cas(operation_id, S.CANCELLED, ACTIVE, where=where, completed_at=timezone.now(),
            stage=S.CANCELLED):
        return S.CANCELLED
    status = _current_status(operation_id, bank_pk)
    if status == S.CANCELLED and not strict:
        return status
    raise InvalidTransition(operation_id, "cancelled", status)


@dataclass
class CancelOutcome:
    cancelled: list[str] = field(default_factory=list)
    already_terminal: int = 0
    not_found: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "cancelled": len(self.cancelled),
            "already_terminal": self.already_terminal,
            "not_found": self.not_found,
            "operation_ids": self.cancelled,
        }


def cancel_many(
    scope: Q, operation_ids: list[uuid.UUID] | None = None, statuses: Iterable[str] | None = None
) -> CancelOutcome:
    """Cancel every active operation in ``scope`` that matches the ids and/or statuses.

    The rows are locked before the update (``select_for_update`` on PostgreSQL; SQLite's
    IMMEDIATE transaction already holds the write lock), so the ids reported are exactly the
    ones this call moved to ``cancelled``.
    """
    outcome = CancelOutcome()
    wanted = Operation.objects.filter(scope)
    if operation_ids is not None:
        wanted = wanted.filter(pk__in=operation_ids)
    statuses = set(statuses) if statuses is not None else set(ACTIVE)
    with transaction.atomic():
        active_ids = list(
            wanted.select_for_update()
            .filter(status__in=statuses & ACTIVE)
            .values_list("pk", flat=True)
        )
        for start in range(0, len(active_ids), 500):
            batch = active_ids[start : start + 500]
            Operation.objects.filter(pk__in=batch, status__in=ACTIVE).update(
                status=S.CANCELLED, completed_at=timezone.now(), updated_at=timezone.now(),
                stage=S.CANCELLED,
            )
            webhooks.record_terminal(batch)  # the outbox commits with the state
        outcome.cancelled = [str(pk) for pk in active_ids]
        if operation_ids is not None:
            terminal = set(
                wanted.filter(status__in=TERMINAL).values_list("pk", flat=True)
            ) - set(active_ids)
            outcome.already_terminal = len(terminal)
            seen = set(wanted.values_list("pk", flat=True))
            outcome.not_found = len({uuid.UUID(str(i)) for i in operation_ids} - seen)
            # Active but excluded by the status filter counts as neither: report it as terminal
            # would be wrong, so it is simply not cancelled (the caller asked for other statuses).
    return outcome


# A manual retry starts over: waiting for the scheduler, no automatic retries counted yet.
_FRESH_SCHEDULE: dict[str, object] = {
    "dispatched_at": None, "retry_count": 0, "next_retry_at": None, "last_error": "",
}


def retry(operation_id: object, bank_pk: int | None = None) -> None:
    """``failed|cancelled -> pending``; the next run resumes from the committed ``progress``."""
    where = Q(bank_id=bank_pk) if bank_pk is not None else None
    changed = _cas(
        operation_id,
        S.PENDING,
        RETRYABLE,
        where=where,
        completed_at=None,
        error=None,
        error_type="",
        worker_id="",
        heartbeat_at=None,
        lost_count=0,
        summary=None,
        **_FRESH_SCHEDULE,
        result_rendering=None,
    )
    if not changed:
        raise InvalidTransition(operation_id, "retried", _current_status(operation_id, bank_pk))


# --- Liveness -----------------------------------------------------------------------------------


@dataclass
class ReapOutcome:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def requeue_lost(operation_id: object, worker_id: str, max_attempts: int) -> str | None:
    """A running operation whose worker is gone: back to ``pending`` (resuming from committed
    progress), or ``failed`` once ``max_attempts`` runs were lost (the poison-pill guard).

    The CAS includes ``worker_id``, so an operation that a live worker has meanwhile finished or
    that was re-claimed by another worker is left alone. Returns the new status or None.
    """
    row = (
        Operation.objects.filter(pk=operation_id, status=S.RUNNING, worker_id=worker_id)
        .values_list("lost_count", flat=True)
        .first()
    )
    if row is None:
        return None
    lost = row + 1
    owner = Q(worker_id=worker_id, lost_count=row)
    if lost >= max_attempts:
        changed = _cas(
            operation_id,
            S.FAILED,
            {S.RUNNING},
            where=owner,
            lost_count=lost,
            completed_at=timezone.now(),
            error=f"worker lost after {lost} attempts",
            error_type="WorkerLost",
        )
        return S.FAILED if changed else None
    changed = _cas(
        operation_id,
        S.PENDING,
        {S.RUNNING},
        where=owner,
        lost_count=lost,
        worker_id="",
        heartbeat_at=None,
    )
    return S.PENDING if changed else None


def reap_stale(stale_after: float, max_attempts: int, now: datetime | None = None) -> ReapOutcome:
    """Requeue or fail every running operation whose heartbeat is older than ``stale_after``.

    Many sweepers run at once (every RQ worker, every API process). On PostgreSQL each one locks
    the stale rows it picks with ``FOR UPDATE SKIP LOCKED``, so concurrent sweeps take disjoint
    rows instead of queueing on each other; SQLite's IMMEDIATE transaction serialises them. The
    update itself stays a compare-and-set on (status, worker, lost_count).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=stale_after)
    outcome = ReapOutcome()
    with transaction.atomic():
        stale = list(
            Operation.objects.select_for_update(skip_locked=True)
            .filter(status=S.RUNNING, heartbeat_at__lt=cutoff)
            .order_by("heartbeat_at")
            .values_list("pk", "worker_id")[:500]
        )
        for pk, worker_id in stale:
            result = requeue_lost(pk, worker_id, max_attempts)
            if result == S.PENDING:
                outcome.requeued.append(str(pk))
            elif result == S.FAILED:
                outcome.failed.append(str(pk))
    return outcome


def take_unclaimed(older_than: datetime, limit: int = 500) -> list[str]:
    """Pick dispatched pending operations last touched before ``older_than`` for re-dispatch
    (the outbox). Operations still waiting for their turn are the scheduler's (see
    ``operations.scheduler``), not this sweep's.

    Touching ``updated_at`` of the picked rows (still only while ``pending``) restarts their
    grace period, so the many sweepers do not all re-dispatch the same row on every pass; with
    ``FOR UPDATE SKIP LOCKED`` two concurrent sweeps pick disjoint rows on PostgreSQL.
    """
    with transaction.atomic():
        picked = list(
            Operation.objects.select_for_update(skip_locked=True)
            .filter(status=S.PENDING, dispatched_at__isnull=False, updated_at__lt=older_than)
            .order_by("created_at")
            .values_list("pk", flat=True)[:limit]
        )
        if picked:
            Operation.objects.filter(pk__in=picked, status=S.PENDING).update(
                updated_at=timezone.now()
            )
    return [str(pk) for pk in picked]


def delete_terminal_many(
    operation_ids: Sequence[object], bank_pk: int | None = None
) -> list[tuple[uuid.UUID, str, str]]:
    """Delete the terminal operations among ``operation_ids`` (their memories stay:
    ``Memory.operation`` is SET_NULL). The one way any surface deletes operations: the
    ``status IN TERMINAL`` condition is part of the delete, so an operation a concurrent retry
    just moved back to ``pending`` is never deleted. Returns ``(id, type, status)`` of each
    deleted row, read in the same transaction as the delete."""
    with transaction.atomic():
        doomed = Operation.objects.filter(pk__in=operation_ids, status__in=TERMINAL)
        if bank_pk is not None:
            doomed = doomed.filter(bank_id=bank_pk)
        rows = list(doomed.values_list("pk", "type", "status"))
        doomed.delete()
    return rows


def delete_terminal(operation_id: object, bank_pk: int | None = None) -> None:
    """Delete one terminal operation record; 409 while it is active."""
    if not delete_terminal_many([operation_id], bank_pk):
        raise InvalidTransition(operation_id, "deleted", _current_status(operation_id, bank_pk))


# --- Scheduling (automatic retry) ------------------------------------------------------------


def defer(
    operation_id: object, worker_id: str, error: str, error_type: str, delay: float
) -> bool:
    """``running -> pending`` after a transient error: ``retry_count + 1``, eligible again at
    ``now + delay`` (``next_retry_at``), waiting for the scheduler, ``last_error`` kept. Only
    while this worker still owns it; the next run resumes from the committed ``progress``."""
    now = timezone.now()
    return bool(
        _cas(
            operation_id,
            S.PENDING,
            {S.RUNNING},
            where=Q(worker_id=worker_id),
            retry_count=F("retry_count") + 1,
            next_retry_at=now + timedelta(seconds=delay),
            last_error=f"{error_type}: {error}"[:10_000] if error_type else error[:10_000],
            worker_id="",
            heartbeat_at=None,
            dispatched_at=None,
        )
    )


def expedite(operation_id: object, bank_pk: int | None = None) -> bool:
    """A deferred pending operation becomes eligible now (a manual retry of it). Not a status
    change: ``status = 'pending' AND next_retry_at IS NOT NULL`` is the condition."""
    query = Operation.objects.filter(pk=operation_id, status=S.PENDING, next_retry_at__isnull=False)
    if bank_pk is not None:
        query = query.filter(bank_id=bank_pk)
    with transaction.atomic():
        return bool(query.update(next_retry_at=None, updated_at=timezone.now()))
