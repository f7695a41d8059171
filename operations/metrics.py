"""Prometheus metrics (``GET /metrics``): what an operator graphs and alerts on.

Every figure is read from the database -- the truth -- when Prometheus scrapes, so any API
process gives the same answer, RQ work-horses (forked per job) need no multiprocess mode, and
nothing is lost when a process dies. Only cheap queries: active operations are a range of the
``(status, created_at, id)`` index however large the table grows, and terminal operations are
not counted (they grow without bound and are pruned; ``/api/operations/?status=`` has them).
No bank ids appear in labels: the endpoint reveals no bank's existence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F, Min, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import presence
from .executor import get_executor
from .models import Operation
from .states import OperationStatus, OperationType
from .webhook_metrics import WebhookCollector

logger = logging.getLogger(__name__)

S = OperationStatus
ACTIVE = (S.PENDING, S.RUNNING)


class OperationsCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("hindsight_database_up",
                               "1 if the database answered this scrape's queries, else 0")
        try:
            families = list(self._from_database())
        except DatabaseError:
            logger.warning("metrics: database query failed", exc_info=True)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield from families
        yield from self._executor()

    def _from_database(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        active = Operation.objects.filter(status__in=ACTIVE)
        operations = GaugeMetricFamily(
            "hindsight_operations", "Operations waiting or running, by status and type",
            labels=["status", "type"])
        remaining = GaugeMetricFamily(
            "hindsight_operations_remaining_units",
            "Units of work (items, entities, memories) not yet committed by pending and running "
            "operations, by type: the backlog to size workers by", labels=["type"])
        counts = {(status, kind): 0 for status in ACTIVE for kind in OperationType.values}
        backlog = dict.fromkeys(OperationType.values, 0)
        rows = (active.values("status", "type").order_by()
                .annotate(n=Count("id"), left=Sum(F("total") - F("progress"))))
        for row in rows:
            counts[(row["status"], row["type"])] = row["n"]
            backlog[row["type"]] = backlog.get(row["type"], 0) + (row["left"] or 0)
        for (status, kind), n in sorted(counts.items()):
            operations.add_metric([status, kind], n)
        for kind, left in sorted(backlog.items()):
            remaining.add_metric([kind], left)
        yield operations
        yield remaining

        oldest = Operation.objects.filter(status=S.PENDING).aggregate(at=Min("created_at"))["at"]
        age = GaugeMetricFamily(
            "hindsight_oldest_pending_age_seconds",
            "Age of the oldest pending operation (0 when none): how long work waits to start")
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield age

        stale_before = now - timedelta(seconds=settings.HINDSIGHT_STALE_AFTER)
        stale = GaugeMetricFamily(
            "hindsight_operations_stale",
            "Running operations whose heartbeat is older than HINDSIGHT_STALE_AFTER: their "
            "worker is gone or stuck, and the reaper will take them over")
        stale.add_metric([], Operation.objects.filter(
            status=S.RUNNING, heartbeat_at__lt=stale_before).count())
        yield stale

        deferred = GaugeMetricFamily(
            "hindsight_operations_awaiting_retry",
            "Pending operations waiting for an automatic retry after a transient error")
        deferred.add_metric([], Operation.objects.filter(
            status=S.PENDING, next_retry_at__gt=now).count())
        yield deferred
        retried = GaugeMetricFamily(
            "hindsight_operation_retries",
            "Automatic retries after transient errors of the operations still in the database, "
            "by type", labels=["type"])
        totals = dict.fromkeys(OperationType.values, 0)
        for row in (Operation.objects.filter(retry_count__gt=0).values("type").order_by()
                    .annotate(n=Sum("retry_count"))):
            totals[row["type"]] = row["n"] or 0
        for kind, n in sorted(totals.items()):
            retried.add_metric([kind], n)
        yield retried
        if settings.HINDSIGHT_EXECUTOR == "rq":
            yield from self._workers()

    @staticmethod
    def _workers() -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        # From the rows every RQ worker keeps (operations.presence), not from Redis: the figures
        # matter most while Redis is down, and the counter outlives a Redis restarted empty.
        state = presence.workers_state()
        reconnects = CounterMetricFamily(
            "hindsight_redis_reconnects",
            "Times an RQ worker got Redis back after losing it, summed over the workers of the "
            "last week (a worker record dropped after a week reads as a counter reset)")
        reconnects.add_metric([], state.reconnects_total)
        yield reconnects
        workers = GaugeMetricFamily(
            "hindsight_workers", "RQ workers alive (seen by the database within "
            "HINDSIGHT_STALE_AFTER), by whether they reach Redis", labels=["redis"])
        workers.add_metric(["up"], state.alive - state.waiting_for_redis)
        workers.add_metric(["down"], state.waiting_for_redis)
        yield workers

    def _executor(self) -> Iterator[GaugeMetricFamily]:
        try:
            health = get_executor().health()
        except Exception:  # a broken transport must not break the scrape; health says why
            health = {"status": "error", "type": settings.HINDSIGHT_EXECUTOR}
        up = GaugeMetricFamily(
            "hindsight_executor_up",
            "1 if this process's executor reports ok (embedded pool, or Redis for RQ)",
            labels=["executor"])
        up.add_metric([str(health.get("type"))], 1 if health.get("status") == "ok" else 0)
        yield up
        if "in_flight" in health:
            in_flight = GaugeMetricFamily(
                "hindsight_executor_in_flight",
                "Operations this process's embedded executor is running")
            in_flight.add_metric([], health["in_flight"])
            yield in_flight
        if "queued" in health:
            queued = GaugeMetricFamily("hindsight_rq_queued_jobs", "Jobs waiting in the RQ queue")
            queued.add_metric([], health["queued"])
            yield queued
            workers = GaugeMetricFamily("hindsight_rq_workers", "RQ workers registered in Redis")
            workers.add_metric([], health["workers"])
            yield workers


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(OperationsCollector())
REGISTRY.register(WebhookCollector())  # webhooks (issue 14)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` in Prometheus' text format (public like ``/health``: no bank ids)."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
