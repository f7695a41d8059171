"""Webhook figures on /metrics: deliveries by outcome, pending backlog, oldest pending age."""

from __future__ import annotations

import re

import pytest

from operations import transitions, webhook_services
from operations.models import WebhookDelivery
from tests.factories import submit_retain

pytestmark = pytest.mark.django_db


def figure(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing"
    return float(match.group(1))


def test_metrics_count_deliveries_by_outcome_and_age_the_oldest_pending(client, bank):
    webhook_services.create_webhook(bank, "https://hooks.invalid/in")
    for _ in range(3):
        transitions.cancel(submit_retain(bank, 1).pk)
    first = WebhookDelivery.objects.order_by("created_at").first()
    WebhookDelivery.objects.filter(pk=first.pk).update(status="delivered")
    text = client.get("/metrics").content.decode()
    assert figure(text, 'hindsight_webhook_deliveries{status="pending"}') == 2
    assert figure(text, 'hindsight_webhook_deliveries{status="delivered"}') == 1
    assert figure(text, 'hindsight_webhook_deliveries{status="failed"}') == 0
    assert figure(text, "hindsight_webhook_pending_deliveries") == 2
    assert figure(text, "hindsight_webhook_oldest_pending_age_seconds") >= 0
    WebhookDelivery.objects.update(status="failed")
    text = client.get("/metrics").content.decode()
    assert figure(text, "hindsight_webhook_oldest_pending_age_seconds") == 0
