"""Webhooks through the unchanged official client (``client.webhooks.*`` of hindsight-client
1.1.0): all five methods against a live server, ``http_config`` honoured by real deliveries, the
compatible event names, and this surface's error shapes."""

from __future__ import annotations

import pytest
from hindsight_client_api.exceptions import ApiException, NotFoundException
from hindsight_client_api.models.create_webhook_request import CreateWebhookRequest
from hindsight_client_api.models.update_webhook_request import UpdateWebhookRequest
from hindsight_client_api.models.webhook_http_config import WebhookHttpConfig

from operations import transitions
from operations.executor import get_executor
from operations.models import WebhookDelivery
from tests.compat.conftest import run, wait_for
from tests.factories import make_bank, submit_retain
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_compat-secret"


@pytest.fixture
def webhook_settings(settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    settings.HINDSIGHT_WEBHOOK_RETRY_SCHEDULE = [0.2, 0.2]
    settings.HINDSIGHT_WEBHOOK_POLL_INTERVAL = 0.05
    get_executor().start()
    return settings


def test_all_five_webhook_methods_of_the_official_client(hindsight, webhook_settings):
    make_bank("demo")
    api = hindsight.webhooks
    created = run(api.create_webhook("demo", CreateWebhookRequest(
        url="https://hooks.invalid/in", secret=SECRET,
        event_types=["retain.completed", "consolidation.completed"])))
    assert created.bank_id == "demo" and created.enabled is True
    assert created.event_types == ["retain.completed", "consolidation.completed"]
    assert created.secret != SECRET and created.secret.endswith(SECRET[-4:])
    listed = run(api.list_webhooks("demo", limit=10, offset=0))
    assert [w.id for w in listed.items] == [created.id] and listed.total == 1
    updated = run(api.update_webhook("demo", created.id, UpdateWebhookRequest(enabled=False)))
    assert updated.enabled is False
    assert updated.event_types == ["retain.completed", "consolidation.completed"]
    deliveries = run(api.list_webhook_deliveries("demo", created.id, limit=10))
    assert deliveries.items == [] and deliveries.next_cursor is None
    deleted = run(api.delete_webhook("demo", created.id))
    assert deleted.success is True
    assert run(api.list_webhooks("demo")).items == []


def test_retain_completed_is_delivered_with_the_http_config_honoured(hindsight, webhook_settings):
    bank = make_bank("demo")
    with Receiver([200]) as receiver:
        post = run(hindsight.webhooks.create_webhook("demo", CreateWebhookRequest(
            url=receiver.url, secret=SECRET, event_types=["retain.completed"],
            http_config=WebhookHttpConfig(method="POST", timeout_seconds=5,
                                          headers={"X-Team": "memory"},
                                          params={"source": "hindsight"}))))
        get = run(hindsight.webhooks.create_webhook("demo", CreateWebhookRequest(
            url=receiver.url, event_types=["retain.completed"],
            http_config=WebhookHttpConfig(method="GET"))))
        op = submit_retain(bank, 3, dispatch=True)
        got = receiver.wait(lambda r: len(r) >= 2)
    by_method = {x.method: x for x in got}
    sent = by_method["POST"]
    assert sent.path == "/hook?source=hindsight"
    assert sent.headers["x-team"] == "memory" and sent.signature_valid(SECRET)
    assert sent.json["event"] == "retain.completed"
    assert sent.json["operation_id"] == str(op.pk)
    assert by_method["GET"].body == b"" and "event=retain.completed" in by_method["GET"].path
    wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 2)
    page = run(hindsight.webhooks.list_webhook_deliveries("demo", post.id))
    [row] = page.items
    assert row.status == "delivered" and row.attempts == 1 and row.url == receiver.url
    assert row.event_type == "retain.completed" and row.last_response_status == 200
    assert row.event_id == sent.json["event_id"]
    assert get.http_config.method == "GET"


def test_delivery_cursor_pages_through_the_log(hindsight, webhook_settings):
    bank = make_bank("demo")
    hook = run(hindsight.webhooks.create_webhook("demo", CreateWebhookRequest(
        url="https://hooks.invalid/in", event_types=["operation.cancelled"])))
    for _ in range(3):
        transitions.cancel(submit_retain(bank, 1).pk)
    first = run(hindsight.webhooks.list_webhook_deliveries("demo", hook.id, limit=2))
    assert len(first.items) == 2 and first.next_cursor
    rest = run(hindsight.webhooks.list_webhook_deliveries("demo", hook.id, limit=2,
                                                          cursor=first.next_cursor))
    assert len(rest.items) == 1 and rest.next_cursor is None
    ids = {i.id for i in first.items} | {i.id for i in rest.items}
    assert len(ids) == 3


def test_compat_errors_unknown_event_422_unknown_bank_and_webhook_404(hindsight,
                                                                       webhook_settings):
    make_bank("demo")
    with pytest.raises(ApiException) as bad:
        run(hindsight.webhooks.create_webhook("demo", CreateWebhookRequest(
            url="https://hooks.invalid/in", event_types=["memory_defense.triggered"])))
    assert bad.value.status == 422
    assert '"event_types"' in bad.value.body and '"loc"' in bad.value.body
    with pytest.raises(ApiException) as private:
        webhook_settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = False
        run(hindsight.webhooks.create_webhook("demo", CreateWebhookRequest(
            url="http://169.254.169.254/latest")))
    assert private.value.status == 422 and "metadata" in private.value.body
    with pytest.raises(NotFoundException):
        run(hindsight.webhooks.list_webhooks("nobody"))
    with pytest.raises(NotFoundException):
        run(hindsight.webhooks.delete_webhook("demo", "00000000-0000-0000-0000-000000000000"))
