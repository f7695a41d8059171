"""The native webhook endpoints (docs/api.md 3.3) and the address guard, over HTTP."""

from __future__ import annotations

import pytest

from operations import deliveries, transitions, webhook_services
from operations.models import WebhookDelivery
from tests.factories import submit_retain
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
URL = "https://hooks.invalid/in"  # .invalid never resolves: nothing is ever sent


def hooks_path(bank_id="alpha"):
    return f"/api/banks/{bank_id}/webhooks/"


@pytest.fixture
def allow_private(settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    settings.HINDSIGHT_WEBHOOK_RETRY_SCHEDULE = [0.2, 0.2]
    return settings


def create(api, bank_id="alpha", **body):
    return api.post(hooks_path(bank_id), {"url": URL, **body}, format="json")


def test_create_shows_the_generated_secret_once_then_masked(api, bank, allow_private):
    created = create(api, events=["operation.completed"], description="ci")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 20
    assert body["events"] == ["operation.completed"] and body["enabled"] is True
    assert body["bank_id"] == "alpha" and body["last_delivery"] is None
    one = api.get(f"{hooks_path()}{body['webhook_id']}/").json()
    assert one["secret"] == f"whsec_…{body['secret'][-4:]}"
    listed = api.get(hooks_path()).json()["webhooks"]
    assert [h["webhook_id"] for h in listed] == [body["webhook_id"]]
    assert listed[0]["secret"] == one["secret"]


def test_patch_changes_fields_and_rotates_the_secret(api, bank, allow_private):
    hook = create(api, secret="whsec_first-secret").json()
    path = f"{hooks_path()}{hook['webhook_id']}/"
    changed = api.patch(path, {"enabled": False, "secret": "whsec_second-secret",
                               "events": ["operation.failed"]}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["enabled"] is False and changed.json()["events"] == ["operation.failed"]
    assert changed.json()["secret"].endswith("cret") and "second" not in changed.json()["secret"]
    assert webhook_services.get_webhook(bank, hook["webhook_id"]).secret == "whsec_second-secret"
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"events": ["operation.exploded"]}, "events"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://example.com/" + "x" * 2100}, "url"),
    ({"secret": "short"}, "secret"),
    ({"http_config": {"headers": {f"X-{i}": "v" for i in range(21)}}}, "http_config"),
    ({"http_config": {"headers": {"X-Hindsight-Event": "spoofed"}}}, "http_config"),
    ({"http_config": {"method": "DELETE"}}, "http_config"),
    ({"enabled": "maybe"}, "enabled"),
])
def test_bad_webhook_input_is_400_naming_the_field(api, bank, allow_private, body, field):
    response = create(api, **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://172.16.5.5/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://localhost:9000/hook", "localhost resolves to 127.0.0.1 is a loopback"),
])
def test_private_addresses_are_refused_at_creation_with_the_reason(api, bank, url, reason):
    response = create(api, url=url)
    assert response.status_code == 400, response.json()
    assert reason in response.json()["url"][0]


def test_private_addresses_are_refused_again_at_delivery(bank, settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    with Receiver([200]) as receiver:
        webhook_services.create_webhook(bank, receiver.url.replace("127.0.0.1", "localhost"))
        settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = False  # e.g. the DNS answer changed since
        op = submit_retain(bank, 1)
        transitions.claim(op.pk, "w1")
        transitions.complete(op.pk, "w1")
        deliveries.deliver_due()  # (or the executor's loop, if this process runs one)
        row = wait_for(lambda: WebhookDelivery.objects.filter(last_attempt_at__isnull=False)
                       .first())
    assert receiver.received == []
    assert row.last_error.startswith("refused: localhost resolves to 127.0.0.1 is a loopback")


def test_allow_private_lets_a_loopback_receiver_be_pinged(api, bank, allow_private):
    with Receiver([200]) as receiver:
        hook = create(api, url=receiver.url, secret="whsec_ping-secret").json()
        answer = api.post(f"{hooks_path()}{hook['webhook_id']}/ping/")
    assert answer.status_code == 200
    assert answer.json()["delivered"] is True and answer.json()["status_code"] == 200
    [ping] = receiver.received
    assert ping.json["event"] == "ping" and ping.signature_valid("whsec_ping-secret")
    listed = api.get(hooks_path()).json()["webhooks"][0]
    assert listed["last_delivery"]["status"] == "delivered"


def test_ping_to_a_dead_port_reports_the_error(api, bank, allow_private):
    hook = create(api, url="http://127.0.0.1:9/").json()
    answer = api.post(f"{hooks_path()}{hook['webhook_id']}/ping/").json()
    assert answer["delivered"] is False and answer["status_code"] is None and answer["error"]


def test_more_webhooks_than_the_limit_is_413(api, bank, allow_private):
    allow_private.HINDSIGHT_MAX_WEBHOOKS_PER_BANK = 2
    assert create(api).status_code == create(api).status_code == 201
    response = create(api)
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_WEBHOOKS_PER_BANK"


def test_deliveries_newest_first_filtered_with_cursor_and_redelivered(api, bank, allow_private):
    hook = create(api, events=["operation.cancelled"]).json()
    ops = [submit_retain(bank, 1) for _ in range(5)]
    for op in ops:
        transitions.cancel(op.pk)
    path = f"{hooks_path()}{hook['webhook_id']}/deliveries/"
    first = api.get(path, {"limit": 3}).json()
    assert [d["operation_id"] for d in first["deliveries"]] == [str(o.pk) for o in ops[::-1][:3]]
    rest = api.get(path, {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [d["operation_id"] for d in rest["deliveries"]] == [str(o.pk) for o in ops[1::-1]]
    assert rest["next_cursor"] is None
    assert api.get(path, {"status": "delivered"}).json()["deliveries"] == []
    assert len(api.get(path, {"status": "pending,failed"}).json()["deliveries"]) == 5
    assert api.get(path, {"status": "lost"}).status_code == 400
    target = first["deliveries"][0]
    again = api.post(f"{path}{target['delivery_id']}/redeliver/")
    assert again.status_code == 202
    assert again.json()["event_id"] == target["event_id"]
    assert again.json()["delivery_id"] != target["delivery_id"]
    assert api.post(f"{path}{'0' * 32}/redeliver/").status_code == 404


def test_another_banks_webhook_is_404_on_every_path(api, bank, other_bank, allow_private):
    hook = create(api, bank_id="beta").json()
    base = f"{hooks_path('alpha')}{hook['webhook_id']}/"
    assert api.get(base).status_code == 404
    assert api.patch(base, {"enabled": False}, format="json").status_code == 404
    assert api.delete(base).status_code == 404
    assert api.post(f"{base}ping/").status_code == 404
    assert api.get(f"{base}deliveries/").status_code == 404
    assert api.get(f"{hooks_path('alpha')}not-a-uuid/").status_code == 404
    assert api.get(hooks_path("nobody")).status_code == 404
