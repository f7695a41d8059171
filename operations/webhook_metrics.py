"""Webhook figures for ``GET /metrics`` (read from the database at scrape time, like every
other figure there): deliveries by outcome, the pending backlog, and how long the oldest pending
delivery has waited -- the number to alert on when a receiver is down."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)


class WebhookCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            families = list(self._from_database())
        except DatabaseError:  # hindsight_database_up already says so
            logger.warning("metrics: webhook query failed", exc_info=True)
            return
        yield from families

    def _from_database(self) -> Iterator[GaugeMetricFamily]:
        by_status = dict.fromkeys(DeliveryStatus.values, 0)
        rows = WebhookDelivery.objects.values("status").order_by().annotate(n=Count("id"))
        for row in rows:
            by_status[row["status"]] = row["n"]
        outcome = GaugeMetricFamily(
            "hindsight_webhook_deliveries",
            "Webhook deliveries by outcome (pending, delivered, failed); delivered and failed "
            "rows are kept until pruned", labels=["status"])
        for status, n in sorted(by_status.items()):
            outcome.add_metric([status], n)
        yield outcome
        pending = GaugeMetricFamily("hindsight_webhook_pending_deliveries",
                                    "Webhook deliveries not yet delivered nor given up")
        pending.add_metric([], by_status[DeliveryStatus.PENDING])
        yield pending
        oldest = (WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
                  .aggregate(at=Min("created_at"))["at"])
        age = GaugeMetricFamily(
            "hindsight_webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery (0 when none): a receiver that is down "
            "or slow shows here first")
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield age
