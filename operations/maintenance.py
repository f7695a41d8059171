"""Operator workflows over many operations at once: prune, stats, bulk retry and bulk delete.

The Django admin and ``manage.py operations`` call these (and ``operations.services``) and only
format the per-outcome counts they return. Status changes still happen only in
``operations.transitions``, and so do deletes (``transitions.delete_terminal_many``: an
operation that a concurrent retry moved back to ``pending`` is never deleted).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from . import transitions, webhooks
from .exceptions import (
    AmbiguousOperationId,
    InvalidOperationId,
    InvalidTransition,
    OperationNotFound,
)
from .models import Operation
from .services import parse_operation_id, retry_operation
from .states import ACTIVE, TERMINAL, OperationStatus, OperationType

DELETE_BATCH = 500


def find_operation(operation_id: object) -> Operation:
    """An operation of any bank, for operators (staff and shell users see every bank)."""
    pk = parse_operation_id(operation_id)
    try:
        return Operation.objects.select_related("bank").get(pk=pk)
    except Operation.DoesNotExist:
        raise OperationNotFound(pk) from None


def parse_ids(raw_ids: Iterable[object]) -> tuple[list[uuid.UUID], int]:
    """Valid UUIDs (deduplicated, in order) and how many inputs were malformed."""
    ids: dict[uuid.UUID, None] = {}
    malformed = 0
    for raw in raw_ids:
        try:
            ids[parse_operation_id(raw)] = None
        except InvalidOperationId:
            malformed += 1
    return list(ids), malformed


# --- Bulk retry ---------------------------------------------------------------------------------


@dataclass
class RetryOutcome:
    retried: list[str] = field(default_factory=list)
    not_retryable: dict[str, int] = field(default_factory=dict)  # current status -> count
    not_found: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "retried": len(self.retried),
            "not_retryable": sum(self.not_retryable.values()),
            "not_retryable_by_status": dict(self.not_retryable),
            "not_found": self.not_found,
            "operation_ids": self.retried,
        }


def retry_operations(operation_ids: Iterable[object]) -> RetryOutcome:
    """Retry each ``failed``/``cancelled`` operation through ``services.retry_operation``
    (CAS to ``pending`` + dispatch on commit); count the others by their current status."""
    ids, malformed = parse_ids(operation_ids)
    outcome = RetryOutcome(not_found=malformed)
    rows = Operation.objects.filter(pk__in=ids).select_related("bank").only("id", "bank")
    found = {row.pk: row for row in rows}
    outcome.not_found += len(ids) - len(found)
    not_retryable: Counter[str] = Counter()
    for pk in ids:
        row = found.get(pk)
        if row is None:
            continue
        try:
            retry_operation(row.bank, pk)
        except InvalidTransition as exc:
            not_retryable[exc.status] += 1
        except OperationNotFound:  # deleted between the lookup and the retry
            outcome.not_found += 1
        else:
            outcome.retried.append(str(pk))
    outcome.not_retryable = dict(not_retryable)
    return outcome


# --- Bulk delete and prune ----------------------------------------------------------------------


@dataclass
class DeleteOutcome:
    deleted: int = 0
    skipped_active: int = 0
    not_found: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "deleted": self.deleted,
            "skipped_active": self.skipped_active,
            "not_found": self.not_found,
            "by_status": dict(self.by_status),
        }


def _delete_terminal_batch(pks: list[uuid.UUID]) -> dict[str, int]:
    return dict(Counter(status for _, _, status in transitions.delete_terminal_many(pks)))


def delete_terminal_operations(operation_ids: Iterable[object]) -> DeleteOutcome:
    """Delete the given operations that are terminal; active ones are skipped and counted."""
    ids, malformed = parse_ids(operation_ids)
    outcome = DeleteOutcome(not_found=malformed)
    by_status: Counter[str] = Counter()
    present = 0
    for start in range(0, len(ids), DELETE_BATCH):
        batch = ids[start : start + DELETE_BATCH]
        present += Operation.objects.filter(pk__in=batch).count()
        by_status.update(_delete_terminal_batch(batch))
    outcome.deleted = sum(by_status.values())
    outcome.skipped_active = present - outcome.deleted
    outcome.not_found += len(ids) - present
    outcome.by_status = dict(by_status)
    return outcome


@dataclass
class PruneOutcome:
    cutoff: datetime
    dry_run: bool
    # (type, status) -> operations deleted (or that would be, on a dry run)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat().replace("+00:00", "Z"),
            "dry_run": self.dry_run,
            "deleted": 0 if self.dry_run else self.total,
            "matched": self.total,
            "by_type_and_status": [
                {"type": t, "status": s, "count": n} for (t, s), n in sorted(self.counts.items())
            ],
        }


def prunable(cutoff: datetime):
    """Terminal operations that finished before ``cutoff``.

    ``completed_at >= created_at`` always, so ``created_at < cutoff`` is implied; stating it lets
    the ``(status, created_at, id)`` index narrow the scan on a big table."""
    return Operation.objects.filter(
        status__in=TERMINAL, created_at__lt=cutoff, completed_at__lt=cutoff
    )


def prune_terminal(
    older_than: timedelta, *, dry_run: bool = False, now: datetime | None = None
) -> PruneOutcome:
    """Delete terminal operations that finished more than ``older_than`` ago, in batches of
    ``DELETE_BATCH`` (each its own short transaction, so the API keeps writing meanwhile).
    Their memories stay. ``dry_run`` only counts."""
    cutoff = (now or timezone.now()) - older_than
    outcome = PruneOutcome(cutoff=cutoff, dry_run=dry_run)
    counts: Counter[tuple[str, str]] = Counter()
    query = prunable(cutoff).order_by()
    if dry_run:
        for row in query.values("type", "status").annotate(n=Count("id")):
            counts[(row["type"], row["status"])] = row["n"]
        outcome.counts = dict(counts)
        return outcome
    while True:
        batch = list(query.values_list("pk", "type")[:DELETE_BATCH])
        if not batch:
            break
        for _, operation_type, status in transitions.delete_terminal_many([pk for pk, _ in batch]):
            counts[(operation_type, status)] += 1
        if len(batch) < DELETE_BATCH:
            break
    outcome.counts = dict(counts)
    webhooks.prune_finished(cutoff)  # the webhook delivery log ages out with its operations
    return outcome


# --- Stats --------------------------------------------------------------------------------------


def operation_stats(now: datetime | None = None) -> dict[str, object]:
    """Counts per status and per type, the running count and the oldest pending operation's
    age: what an operator checks first when "nothing is moving". Two queries."""
    now = now or timezone.now()
    by_status = dict.fromkeys(OperationStatus.values, 0)
    by_type = dict.fromkeys(OperationType.values, 0)
    by_type_status = {t: dict.fromkeys(OperationStatus.values, 0) for t in OperationType.values}
    rows = Operation.objects.order_by().values("type", "status").annotate(n=Count("id"))
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        by_type[row["type"]] = by_type.get(row["type"], 0) + row["n"]
        by_type_status.setdefault(row["type"], {})[row["status"]] = row["n"]
    oldest = Operation.objects.filter(status=OperationStatus.PENDING).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_type": by_type,
        "by_type_and_status": by_type_status,
        "active": sum(by_status[s] for s in ACTIVE),
        "running": by_status[OperationStatus.RUNNING],
        "pending": by_status[OperationStatus.PENDING],
        "oldest_pending_created_at": oldest,
        "oldest_pending_age_seconds": (now - oldest).total_seconds() if oldest else None,
    }


# --- Lookup by id prefix ------------------------------------------------------------------------

HEX_DIGITS = frozenset("0123456789abcdef")


def id_prefix_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The smallest and largest UUID starting with ``prefix`` (hex digits, dashes ignored), or
    None if it is not a hex prefix. A range on the primary key uses its index on SQLite and
    PostgreSQL alike, where ``LIKE 'abc%'`` would scan a million rows."""
    digits = prefix.strip().lower().replace("-", "")
    if not digits or len(digits) > 32 or not set(digits) <= HEX_DIGITS:
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def find_operation_by_prefix(prefix: str, min_length: int = 8) -> Operation:
    """A full id, or a unique prefix of at least ``min_length`` hex digits (the short id the
    admin and ``operations list`` show)."""
    bounds = id_prefix_range(prefix)
    digits = prefix.strip().replace("-", "")
    if bounds is None or len(digits) < min_length:
        raise OperationNotFound(prefix)
    if len(digits) == 32:
        return find_operation(prefix)
    matches = list(
        Operation.objects.filter(pk__gte=bounds[0], pk__lte=bounds[1])
        .select_related("bank")
        .order_by("pk")[:2]
    )
    if not matches:
        raise OperationNotFound(prefix)
    if len(matches) > 1:
        raise AmbiguousOperationId(prefix)
    return matches[0]
