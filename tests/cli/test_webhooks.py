"""``hindsight webhooks ...`` as a real subprocess against a live server, and the Python
client's ``configure_webhook`` exactly as the documentation shows it."""

from __future__ import annotations

import pytest

from hindsight_cli.client import HindsightClient
from operations import transitions
from operations.models import WebhookDelivery
from tests.factories import make_bank, submit_retain
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_ok(settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    return settings


def test_cli_add_list_ping_deliveries_redeliver_rm(cli, private_ok):
    bank = make_bank("demo")
    with Receiver([200]) as receiver:
        added = cli("webhooks", "add", "demo", receiver.url, "--event",
                    "operation.cancelled,operation.failed", "--secret", "whsec_cli-secret",
                    "--json")
        assert added.code == 0, added.stderr
        hook = added.json()
        assert "secret" in hook, added.stdout
        assert hook["secret"] == "whsec_cli-secret"
        assert hook["events"] == ["operation.cancelled", "operation.failed"]
        human = cli("webhooks", "list", "demo")
        assert hook["webhook_id"] in human.stdout and "operation.cancelled" in human.stdout
        listed = cli("webhooks", "list", "demo", "--json").json()
        assert listed[0]["secret"] == "whsec_…cret"
        pinged = cli("webhooks", "ping", "demo", hook["webhook_id"])
        assert pinged.code == 0 and "delivered: HTTP 200" in pinged.stdout
        assert receiver.received[0].json["event"] == "ping"
    transitions.cancel(submit_retain(bank, 1).pk)
    target = WebhookDelivery.objects.get(event="operation.cancelled")
    page = cli("webhooks", "deliveries", "demo", hook["webhook_id"], "--json").json()
    assert [d["event"] for d in page["deliveries"]] == ["operation.cancelled", "ping"]
    again = cli("webhooks", "redeliver", "demo", hook["webhook_id"], str(target.pk), "--json")
    assert again.code == 0 and again.json()["event_id"] == target.event_id
    table = cli("webhooks", "deliveries", "demo", hook["webhook_id"])
    assert "operation.cancelled" in table.stdout and "ping" in table.stdout
    removed = cli("webhooks", "rm", "demo", hook["webhook_id"])
    assert removed.code == 0 and "deleted webhook" in removed.stdout
    missing = cli("webhooks", "rm", "demo", hook["webhook_id"])
    assert missing.code == 3 and "not found" in missing.error_line.lower()


def test_cli_refuses_a_private_address_with_the_reason(cli, db):
    make_bank("demo")
    refused = cli("webhooks", "add", "demo", "http://169.254.169.254/")
    assert refused.code == 3
    assert "metadata" in refused.error_line


def test_python_client_configure_webhook_as_documented(live_server, private_ok):
    make_bank("my-bank")
    client = HindsightClient(base_url=live_server.url)
    hook = client.configure_webhook(
        bank_id="my-bank",
        url="https://myapp.com/webhooks/hindsight",
        events=["operation.completed", "operation.failed"],
    )
    assert hook["secret"].startswith("whsec_")
    assert [h["webhook_id"] for h in client.list_webhooks("my-bank")] == [hook["webhook_id"]]
    page = client.list_webhook_deliveries("my-bank", hook["webhook_id"])
    assert page == {"deliveries": [], "next_cursor": None}
    client.delete_webhook("my-bank", hook["webhook_id"])
    assert client.list_webhooks("my-bank") == []
