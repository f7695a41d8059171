"""Which pending operation starts next: fair across banks, one decision for both executors.

A pending operation is *waiting* (``dispatched_at`` null: not yet handed to any runner) or
*dispatched* (handed to an executor thread, an RQ queue, or the request thread of a synchronous
retain). Executors never take waiting operations in submission order; they ask ``take_next``,
which hands out the oldest waiting operation of the bank with the fewest operations in hand
(running, or dispatched and not yet claimed). So one bank's backlog delays another bank's
operation by at most one running operation, and a bank alone still gets every worker.

The choice runs in one short transaction: SQLite's IMMEDIATE transaction serialises the
choosers; on PostgreSQL a transaction-level advisory lock does, so two workers never both see
"bank B has nothing running" and both take B's operations. ``HINDSIGHT_FAIR_SCHEDULING=0``
falls back to the oldest waiting operation of any bank (plain FIFO; the baseline of
``bench/fairness.py``).

A deferred operation (``next_retry_at`` in the future, after a transient error) is not
eligible until then; the sweepers wake the executors when it becomes due.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from .models import Operation
from .registry import single_flight_types
from .states import OperationStatus

S = OperationStatus
# Any constant: the one advisory lock of the choosers (PostgreSQL).
_ADVISORY_KEY = 0x48_53_31_36


def eligible(now: datetime | None = None) -> Q:
    """Waiting pending operations whose retry delay (if any) has passed."""
    now = now or timezone.now()
    return Q(status=S.PENDING, dispatched_at__isnull=True) & (
        Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    )


_IN_HAND = Q(status=S.RUNNING) | Q(status=S.PENDING, dispatched_at__isnull=False)


def in_hand_by_bank() -> tuple[Counter[int], set[tuple[int, str]]]:
    """Operations each bank has running or dispatched-but-unclaimed, and the (bank, type) pairs
    of single-flight maintenance among them (no second one of those may start)."""
    rows = (
        Operation.objects.filter(_IN_HAND).order_by().values("bank_id", "type")
        .annotate(n=Count("id"))
    )
    counts: Counter[int] = Counter()
    single = single_flight_types()
    busy: set[tuple[int, str]] = set()
    for row in rows:
        counts[row["bank_id"]] += row["n"]
        if row["type"] in single:
            busy.add((row["bank_id"], row["type"]))
    return counts, busy


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])


def _choose(limit: int, now: datetime) -> list:
    """Up to ``limit`` waiting operation ids in the order they should start."""
    waiting = Operation.objects.filter(eligible(now)).order_by()
    if not settings.HINDSIGHT_FAIR_SCHEDULING:
        return list(waiting.order_by("created_at", "id").values_list("pk", flat=True)[:limit])
    heads = {
        row["bank_id"]: row["oldest"]
        for row in waiting.values("bank_id").annotate(oldest=Min("created_at"))
    }
    if not heads:
        return []
    in_hand, busy = in_hand_by_bank()
    chosen: list = []
    queues: dict[int, list] = {}
    while len(chosen) < limit and heads:
        bank = min(heads, key=lambda b: (in_hand[b], heads[b]))
        if bank not in queues:
            # The bank's next few, oldest first (a few more than asked for, as maintenance
            # already in hand is skipped); fetched once per choice.
            queues[bank] = list(
                waiting.filter(bank_id=bank)
                .order_by("created_at", "id")
                .values_list("pk", "created_at", "type")[: limit + 8]
            )
        while queues[bank] and (bank, queues[bank][0][2]) in busy:
            queues[bank].pop(0)
        if not queues[bank]:
            del heads[bank]
            continue
        pk, _, op_type = queues[bank].pop(0)
        chosen.append(pk)
        in_hand[bank] += 1
        if op_type in single_flight_types():
            busy.add((bank, op_type))
        if queues[bank]:
            heads[bank] = queues[bank][0][1]
        elif len(chosen) < limit:
            del heads[bank]  # took all of this bank that the first read fetched
    return chosen


def take_next(limit: int = 1, slots: int | None = None) -> list[str]:
    """Hand out up to ``limit`` waiting operations, fairly: mark them dispatched (a
    compare-and-set on ``dispatched_at IS NULL``, so two choosers never take one row) and return
    their ids, first to start first. With ``slots`` (the runners there are), never more than
    ``slots`` operations are in hand at once -- counted under the same lock, so concurrent
    choosers do not overshoot."""
    now = timezone.now()
    with transaction.atomic():
        _lock()
        if slots is not None:
            limit = min(limit, slots - in_transport())
            if limit <= 0:
                return []
        chosen = _choose(limit, now)
        if not chosen:
            return []
        taken = set(
            Operation.objects.filter(pk__in=chosen, status=S.PENDING, dispatched_at__isnull=True)
            .values_list("pk", flat=True)
        )
        Operation.objects.filter(pk__in=taken, status=S.PENDING, dispatched_at__isnull=True).update(
            dispatched_at=now
        )
    return [str(pk) for pk in chosen if pk in taken]


def in_transport() -> int:
    """Operations handed out and not finished: running, or dispatched and not yet claimed."""
    return Operation.objects.filter(_IN_HAND).count()


def seconds_until_due(after: datetime | None = None) -> float | None:
    """Seconds from now until the first deferred operation due after ``after`` (default now)
    becomes eligible; negative if that moment has passed; None when there is none."""
    now = timezone.now()
    due = Operation.objects.filter(
        status=S.PENDING, dispatched_at__isnull=True, next_retry_at__gt=after or now
    ).aggregate(due=Min("next_retry_at"))["due"]
    return None if due is None else (due - now).total_seconds()


def has_waiting(now: datetime | None = None) -> bool:
    return Operation.objects.filter(eligible(now)).exists()
