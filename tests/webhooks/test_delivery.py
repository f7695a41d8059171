"""Delivery end to end inside one process: the embedded executor runs operations, its delivery
loop sends to a real HTTP receiver on a loopback port, every attempt is logged."""

from __future__ import annotations

import time

import pytest

from operations import webhook_services
from operations.models import Operation, WebhookAttempt, WebhookDelivery
from operations.states import OperationStatus
from tests.factories import submit_retain
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_test-secret-123"


def wait_for(predicate, timeout: float = 60.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def delivery_of(op, event: str = "operation.completed") -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(operation_id=op.pk, event=event).first()


def test_receiver_failing_twice_gets_one_signed_event_after_three_logged_attempts(
    delivering, bank
):
    with Receiver([500, 500, 200]) as receiver:
        webhook_services.create_webhook(bank, receiver.url, events=["operation.completed"],
                                        secret=SECRET)
        op = submit_retain(bank, 5, dispatch=True)
        got = receiver.wait(lambda r: any(x.answered == 200 for x in r))
        delivery = wait_for(lambda: (d := delivery_of(op)) and d.status == "delivered" and d)

    assert Operation.objects.get(pk=op.pk).status == OperationStatus.COMPLETED
    assert [x.answered for x in got] == [500, 500, 200]
    assert {x.json["event_id"] for x in got} == {delivery.event_id}
    assert {x.headers["x-hindsight-event-id"] for x in got} == {delivery.event_id}
    assert all(x.signature_valid(SECRET) for x in got)
    assert not got[0].signature_valid("whsec_another-secret")
    body = got[-1].json
    assert body["event"] == "operation.completed" and body["operation_id"] == str(op.pk)
    assert body["bank_id"] == bank.bank_id and body["status"] == "completed"
    assert body["data"]["progress"] == body["data"]["total"] == 5
    assert got[-1].headers["x-hindsight-event"] == "operation.completed"
    assert got[-1].headers["x-hindsight-delivery-id"] == str(delivery.pk)
    assert got[-1].headers["user-agent"].startswith("hindsight-operations/")
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[0].response_body == "receiver says no" and attempts[0].error == "HTTP 500"
    assert delivery.attempts == 3 and delivery.last_status_code == 200


def test_last_failed_attempt_ends_the_delivery_failed(delivering, bank):
    with Receiver([503]) as receiver:
        webhook_services.create_webhook(bank, receiver.url, secret=SECRET)
        op = submit_retain(bank, 2, dispatch=True)
        delivery = wait_for(lambda: (d := delivery_of(op)) and d.status == "failed" and d)
    assert delivery.attempts == 3  # the schedule has two delays: three attempts
    assert len(receiver.received) == 3
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 3


def test_retry_after_of_a_503_is_waited_at_least(delivering, bank):
    with Receiver([(503, {"Retry-After": "2"}), 200]) as receiver:
        webhook_services.create_webhook(bank, receiver.url, secret=SECRET)
        submit_retain(bank, 2, dispatch=True)
        got = receiver.wait(lambda r: len(r) >= 2)
    assert got[1].at - got[0].at >= 1.9


def test_hanging_receiver_delays_neither_the_operation_nor_the_next_one(delivering, bank):
    delivering.HINDSIGHT_WEBHOOK_TIMEOUT = 8.0
    with Receiver(["hang", 200]) as receiver:
        webhook_services.create_webhook(bank, receiver.url, events=["operation.completed"],
                                        secret=SECRET)
        first = submit_retain(bank, 3, dispatch=True)
        receiver.wait(lambda r: len(r) >= 1)  # the first attempt is now hanging
        second = submit_retain(bank, 3, dispatch=True)
        wait_for(lambda: Operation.objects.get(pk=second.pk).status == "completed", timeout=30)
        # The second operation finished while the first event's attempt was still hanging.
        assert not WebhookAttempt.objects.filter(delivery=delivery_of(first)).exists()
        assert Operation.objects.get(pk=first.pk).status == "completed"
        delivery = wait_for(
            lambda: (d := delivery_of(first)) and d.status == "delivered" and d, timeout=60
        )
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert attempts[0].status_code is None and attempts[0].error.startswith("timeout")
    assert attempts[-1].status_code == 200
    assert delivery_of(second).status == "delivered"


def test_redirects_are_not_followed(delivering, bank):
    with Receiver([(302, {"Location": "http://127.0.0.1:9/elsewhere"})]) as receiver:
        webhook_services.create_webhook(bank, receiver.url, secret=SECRET)
        op = submit_retain(bank, 1, dispatch=True)
        delivery = wait_for(lambda: (d := delivery_of(op)) and d.status == "failed" and d)
    assert delivery.last_status_code == 302 and len(receiver.received) == 3
