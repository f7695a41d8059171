"""The webhook admin: subscriptions with the secret masked and the APIs' validation, a
read-only delivery log with attempts, filters and a Redeliver action; staff only."""

from __future__ import annotations

import pytest

from operations import transitions, webhook_services
from operations.models import Webhook, WebhookDelivery
from tests.factories import submit_retain

pytestmark = pytest.mark.django_db
URL = "https://hooks.invalid/in"


def add_form(bank, url, **extra):
    return {"bank": bank.pk, "url": url, "enabled": "on", "description": "", **extra}


def test_admin_creates_a_webhook_and_shows_its_secret_masked(admin_client, bank):
    response = admin_client.post("/admin/operations/webhook/add/",
                                 add_form(bank, URL, events=["operation.failed"]), follow=True)
    assert response.status_code == 200
    hook = Webhook.objects.get()
    assert hook.events == ["operation.failed"] and hook.secret.startswith("whsec_")
    assert hook.secret in response.content.decode()  # once, in the confirmation message
    listing = admin_client.get("/admin/operations/webhook/").content.decode()
    assert webhooks_masked(hook) in listing and hook.secret not in listing
    page = admin_client.get(f"/admin/operations/webhook/{hook.pk}/change/").content.decode()
    assert hook.secret not in page


def webhooks_masked(hook) -> str:
    return f"whsec_…{hook.secret[-4:]}"


def test_admin_refuses_a_private_address_like_the_api(admin_client, bank):
    response = admin_client.post("/admin/operations/webhook/add/",
                                 add_form(bank, "http://10.0.0.5/hook"))
    assert response.status_code == 200  # the form again, with the error
    assert "10.0.0.5 is a private address" in response.content.decode()
    assert not Webhook.objects.exists()


def test_delivery_log_is_read_only_filterable_and_redelivers(admin_client, bank, settings):
    hook = webhook_services.create_webhook(bank, URL)
    transitions.cancel(submit_retain(bank, 1).pk)
    row = WebhookDelivery.objects.get()
    listing = admin_client.get("/admin/operations/webhookdelivery/?status=pending")
    assert listing.status_code == 200 and row.event_id in listing.content.decode()
    assert admin_client.get("/admin/operations/webhookdelivery/add/").status_code == 403
    detail = admin_client.get(f"/admin/operations/webhookdelivery/{row.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    admin_client.post("/admin/operations/webhookdelivery/",
                      {"action": "redeliver", "_selected_action": [str(row.pk)]})
    rows = WebhookDelivery.objects.filter(webhook=hook)
    assert rows.count() == 2 and {r.event_id for r in rows} == {row.event_id}


def test_webhook_pages_are_staff_only(outsider_client, client, bank):
    for path in ("/admin/operations/webhook/", "/admin/operations/webhookdelivery/"):
        assert outsider_client.get(path).status_code == 302
        assert client.get(path).status_code == 302
