"""The dashboard's webhook panel: deliveries that failed in the window or are being retried
after a refused attempt, with the oldest pending delivery, scoped like the rest of the page."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from operations import dashboard
from operations.models import DeliveryStatus, Webhook, WebhookDelivery
from tests.factories import make_bank

DASHBOARD = "/admin/operations/operation/dashboard/"


def delivery(webhook: Webhook, status: str, attempts: int, event: str, **fields) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        webhook=webhook, event_id=f"evt-{event}-{status}-{attempts}", event=event, payload={},
        status=status, attempts=attempts, **fields)


def test_failing_and_retried_deliveries_are_counted_and_listed_healthy_ones_are_not(db):
    alpha, beta = make_bank("alpha"), make_bank("beta")
    hook = Webhook.objects.create(bank=alpha, url="https://receiver.example/hook")
    other = Webhook.objects.create(bank=beta, url="https://other.example/hook")
    delivery(hook, DeliveryStatus.FAILED, 6, "operation.failed", last_status_code=500)
    delivery(hook, DeliveryStatus.PENDING, 2, "operation.completed", last_error="timed out")
    delivery(hook, DeliveryStatus.PENDING, 0, "operation.cancelled")  # not refused yet
    delivery(hook, DeliveryStatus.DELIVERED, 1, "operation.completed")
    delivery(other, DeliveryStatus.FAILED, 6, "retain.completed")
    old = delivery(hook, DeliveryStatus.FAILED, 6, "operation.completed")
    WebhookDelivery.objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - timedelta(hours=2))  # failed before the hour window

    hour = dashboard.window_named("hour")
    everything = dashboard.webhook_trouble(hour)
    assert (everything.failed, everything.retrying) == (2, 1)
    assert everything.oldest_pending is not None
    assert {d.event for d in everything.recent} == {
        "operation.failed", "operation.completed", "retain.completed"}

    scoped = dashboard.webhook_trouble(hour, alpha)
    assert (scoped.failed, scoped.retrying) == (1, 1)
    assert all(d.webhook.bank_id == alpha.pk for d in scoped.recent)
    assert dashboard.webhook_trouble(dashboard.window_named("day"), alpha).failed == 2


def test_the_dashboard_shows_the_webhook_panel_to_staff(viewer_client):
    bank = make_bank("alpha")
    hook = Webhook.objects.create(bank=bank, url="https://receiver.example/hook")
    delivery(hook, DeliveryStatus.FAILED, 6, "operation.failed", last_status_code=503)

    page = viewer_client.get(DASHBOARD).content.decode()

    assert "Webhook deliveries failing" in page
    assert "operation.failed" in page and "HTTP 503" in page
    assert "receiver.example" in page
