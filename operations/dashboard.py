"""The figures behind the operations dashboard: how the system has been doing over a window
of the last hour, day or week, optionally for one bank.

Every query is bounded by its window on an indexed column (``started_at`` and ``completed_at``
have partial indexes of their own, ``op_started``/``op_completed``; the live lists read the
``(status, created_at, id)`` range of active rows) and groups in the database, so the cost
follows the window's rows, never the table's: see ``bench/admin_dashboard.py`` at 1,000,000
operations. Percentiles are exact (nearest rank) over the durations of the window's rows.

Webhook deliveries failing (``webhook_trouble``) are read from the delivery outbox: pending rows
through its ``(status, next_attempt_at)`` index, failed ones bounded by the window.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone

from banks.models import Bank

from .executor import get_executor
from .models import Operation
from .states import OperationStatus, OperationType
from .webhook_models import DeliveryStatus, WebhookDelivery

S = OperationStatus
OUTCOMES = (S.COMPLETED, S.FAILED, S.CANCELLED)
LIST_LIMIT = 20  # rows of the running and stale/retrying lists
COUNT_CAP = 1000  # counts of those lists stop here ("1,000+")


@dataclass(frozen=True)
class Window:
    name: str
    label: str
    span: timedelta
    bucket: timedelta  # one bar of the charts

    @property
    def buckets(self) -> int:
        return int(self.span / self.bucket)


WINDOWS = {
    "hour": Window("hour", "last hour", timedelta(hours=1), timedelta(minutes=1)),
    "day": Window("day", "last day", timedelta(days=1), timedelta(minutes=20)),
    "week": Window("week", "last week", timedelta(days=7), timedelta(hours=2)),
}
DEFAULT_WINDOW = "hour"


# -- portable time arithmetic in SQL -------------------------------------------------------------
class SecondsBetween(Func):
    """``later - earlier`` in seconds, as a float (SQLite: julianday; PostgreSQL: epoch)."""

    output_field = FloatField()

    def __init__(self, later: Any, earlier: Any) -> None:
        super().__init__(later, earlier)

    def _parts(self, compiler: Any, connection: Any) -> tuple[str, str, list]:
        later, later_params = compiler.compile(self.source_expressions[0])
        earlier, earlier_params = compiler.compile(self.source_expressions[1])
        return later, earlier, [*later_params, *earlier_params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        later, earlier, params = self._parts(compiler, connection)
        return f"((julianday({later}) - julianday({earlier})) * 86400.0)", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        later, earlier, params = self._parts(compiler, connection)
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))::float8", params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        raise NotImplementedError(f"SecondsBetween on {connection.vendor}")


class BucketIndex(Func):
    """Which bar of the window a timestamp falls in: ``floor((column - start) / width)``."""

    output_field = IntegerField()

    def __init__(self, column: str, start: datetime, width: timedelta) -> None:
        self.width = width.total_seconds()
        super().__init__(SecondsBetween(F(column), Value(start, output_field=DateTimeField())))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        seconds, params = compiler.compile(self.source_expressions[0])
        return f"CAST(FLOOR({seconds} / {self.width!r}) AS INTEGER)", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        seconds, params = compiler.compile(self.source_expressions[0])  # >= 0: CAST truncates
        return f"CAST({seconds} / {self.width!r} AS INTEGER)", params


# -- the figures ---------------------------------------------------------------------------------
@dataclass
class Percentiles:
    count: int
    p50: float | None
    p95: float | None


@dataclass
class Dashboard:
    window: Window
    bank: Bank | None
    start: datetime
    end: datetime
    started: dict[str, list[int]]  # type -> operations started per bar
    finished: dict[tuple[str, str], list[int]]  # (type, outcome) -> finished per bar
    units_per_second: dict[str, list[float]]  # type -> units of finished operations / s per bar
    queue_wait: dict[str, Percentiles]  # created -> started, by type
    run_time: dict[str, Percentiles]  # started -> completed, by type
    totals: dict[str, Any] = field(default_factory=dict)

    def bar_starts(self) -> list[datetime]:
        return [self.start + self.window.bucket * i for i in range(self.window.buckets)]


def window_named(name: str | None) -> Window:
    return WINDOWS.get(name or "", WINDOWS[DEFAULT_WINDOW])


def _scoped(query: QuerySet[Operation], bank: Bank | None) -> QuerySet[Operation]:
    return query if bank is None else query.filter(bank=bank)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest rank: the smallest value with at least ``fraction`` of the values at or below."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _percentiles(rows: list[tuple[str, float | None]]) -> dict[str, Percentiles]:
    by_type: dict[str, list[float]] = defaultdict(list)
    for kind, seconds in rows:
        if seconds is not None:
            by_type[kind].append(max(0.0, seconds))
    out = {}
    for kind, values in sorted(by_type.items()):
        values.sort()
        out[kind] = Percentiles(len(values), percentile(values, 0.5), percentile(values, 0.95))
    return out


def build(window: Window, bank: Bank | None = None, now: datetime | None = None) -> Dashboard:
    """Every chart's figures for ``window`` ending now: four bounded, indexed queries."""
    end = now or timezone.now()
    # Bars end on a whole bucket boundary (so they do not shift under a reader every second).
    width = window.bucket.total_seconds()
    end = datetime.fromtimestamp(math.ceil(end.timestamp() / width) * width, tz=end.tzinfo)
    start = end - window.span
    bars = window.buckets
    ops = _scoped(Operation.objects.order_by(), bank)

    started: dict[str, list[int]] = {}
    rows = (ops.filter(started_at__gte=start, started_at__lt=end)
            .annotate(bar=BucketIndex("started_at", start, window.bucket))
            .values("bar", "type").annotate(n=Count("*")))
    for row in rows:
        started.setdefault(row["type"], [0] * bars)[min(row["bar"], bars - 1)] += row["n"]

    finished: dict[tuple[str, str], list[int]] = {}
    units: dict[str, list[float]] = {}
    # completed_at is set by the terminal transitions only (a retry clears it).
    rows = (ops.filter(completed_at__gte=start, completed_at__lt=end)
            .annotate(bar=BucketIndex("completed_at", start, window.bucket))
            .values("bar", "type", "status").annotate(n=Count("*"), units=Sum("progress")))
    for row in rows:
        bar = min(row["bar"], bars - 1)
        finished.setdefault((row["type"], row["status"]), [0] * bars)[bar] += row["n"]
        units.setdefault(row["type"], [0.0] * bars)[bar] += (row["units"] or 0) / width

    waits = list(ops.filter(started_at__gte=start, started_at__lt=end)
                 .values_list("type", SecondsBetween(F("started_at"), F("created_at"))))
    runs = list(ops.filter(completed_at__gte=start, completed_at__lt=end,
                           started_at__isnull=False)
                .values_list("type", SecondsBetween(F("completed_at"), F("started_at"))))
    dashboard = Dashboard(
        window=window, bank=bank, start=start, end=end, started=started,
        finished=finished, units_per_second=units,
        queue_wait=_percentiles(waits), run_time=_percentiles(runs),
    )
    span = window.span.total_seconds()
    dashboard.totals = {
        "started": sum(sum(v) for v in started.values()),
        "finished": {outcome: sum(sum(v) for (_, o), v in finished.items() if o == outcome)
                     for outcome in OUTCOMES},
        "units_per_second": sum(sum(v) for v in units.values()) * width / span,
    }
    return dashboard


# -- what is happening now -----------------------------------------------------------------------
def running(bank: Bank | None = None, limit: int = LIST_LIMIT) -> tuple[list[Operation], int]:
    """The newest running operations and how many run (capped at ``COUNT_CAP``)."""
    query = _scoped(Operation.objects.select_related("bank").filter(status=S.RUNNING), bank)
    rows = list(query.order_by("-created_at", "-id").defer("summary", "error")[:limit])
    return rows, query.order_by()[:COUNT_CAP].count()


def pending_count(bank: Bank | None = None) -> int:
    return _scoped(Operation.objects.filter(status=S.PENDING), bank).order_by()[:COUNT_CAP].count()


def stale_or_retrying(
    bank: Bank | None = None, now: datetime | None = None, limit: int = LIST_LIMIT
) -> tuple[list[Operation], int]:
    """Running operations without a heartbeat for ``HINDSIGHT_STALE_AFTER`` (the reaper will
    take them over), and active ones on a second or later attempt (lost runs, retries)."""
    now = now or timezone.now()
    cut = now - timedelta(seconds=settings.HINDSIGHT_STALE_AFTER)
    stale = Q(status=S.RUNNING) & (
        Q(heartbeat_at__lt=cut) | Q(heartbeat_at__isnull=True, started_at__lt=cut))
    again = Q(status__in=(S.PENDING, S.RUNNING)) & (Q(attempt__gt=1) | Q(lost_count__gt=0))
    if any(f.name == "retry_count" for f in Operation._meta.get_fields()):
        again |= Q(status__in=(S.PENDING, S.RUNNING), retry_count__gt=0)
    base = _scoped(Operation.objects.select_related("bank").defer("summary", "error"), bank)
    # One status and one condition per query, newest first: each walks the (status, created_at)
    # index and stops after ``limit`` rows, where one OR-ed query would sort every match.
    rows: dict[object, Operation] = {}
    for part in (stale, again & Q(status=S.PENDING), again & Q(status=S.RUNNING)):
        for op in base.filter(part).order_by("-created_at", "-id")[:limit]:
            rows[op.pk] = op
    newest = sorted(rows.values(), key=lambda op: (op.created_at, op.pk), reverse=True)[:limit]
    return newest, base.filter(stale | again).order_by()[:COUNT_CAP].count()


@dataclass(frozen=True)
class DeliveryTrouble:
    failed: int  # deliveries that ended ``failed`` in the window
    retrying: int  # pending deliveries a receiver has refused at least once
    oldest_pending: datetime | None  # the oldest delivery not yet accepted
    recent: list[WebhookDelivery]  # the newest of both kinds, at most ``LIST_LIMIT``


def webhook_trouble(window: Window, bank: Bank | None = None, now: datetime | None = None,
                    limit: int = LIST_LIMIT) -> DeliveryTrouble:
    """Webhook deliveries failing: ended ``failed`` within the window, or still being retried
    after a refused attempt, with the age of the oldest pending delivery."""
    now = now or timezone.now()
    base = WebhookDelivery.objects.select_related("webhook__bank").defer("payload")
    if bank is not None:
        base = base.filter(webhook__bank=bank)
    failed = base.filter(status=DeliveryStatus.FAILED, updated_at__gte=now - window.span)
    retrying = base.filter(status=DeliveryStatus.PENDING, attempts__gt=0)
    oldest = (base.filter(status=DeliveryStatus.PENDING).order_by("created_at")
              .values_list("created_at", flat=True).first())
    recent = sorted([*failed.order_by("-updated_at")[:limit],
                     *retrying.order_by("-updated_at")[:limit]],
                    key=lambda d: d.updated_at, reverse=True)[:limit]
    return DeliveryTrouble(failed.order_by()[:COUNT_CAP].count(),
                           retrying.order_by()[:COUNT_CAP].count(), oldest, recent)


def executor_state(executor: Any = None) -> dict[str, Any]:
    """This process's executor (``health()``), and for RQ the workers registered in Redis."""
    executor = executor or get_executor()
    try:
        state = dict(executor.health())
    except Exception as exc:  # a broken transport is what this panel exists to show
        return {"status": "error", "type": settings.HINDSIGHT_EXECUTOR, "error": str(exc)}
    connection = getattr(executor, "connection", None)
    if state.get("status") == "ok" and callable(connection):
        try:
            from rq import Worker

            state["worker_list"] = [
                {"name": w.name, "state": str(w.get_state()),
                 "job": w.get_current_job_id() or "",
                 "done": w.successful_job_count, "failed": w.failed_job_count}
                for w in Worker.all(connection=connection())
            ]
        except Exception as exc:
            state["worker_error"] = str(exc)
    return state


TYPE_ORDER = list(OperationType.values)
