"""Which events a terminal transition writes: exactly its own, to exactly the matching enabled
subscriptions of the operation's bank, in the transition's own transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from operations import maintenance, transitions, webhook_services
from operations.models import WebhookDelivery
from operations.states import OperationType
from operations.submission import submit
from tests.factories import submit_retain

pytestmark = pytest.mark.django_db
URL = "https://hooks.invalid/in"


@pytest.fixture
def hooks(bank, other_bank, settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True  # no DNS lookups in these tests
    return {
        "all": webhook_services.create_webhook(bank, URL),
        "retain": webhook_services.create_webhook(bank, URL, events=["retain.completed"]),
        "failed": webhook_services.create_webhook(bank, URL, events=["operation.failed"]),
        "off": webhook_services.create_webhook(bank, URL, enabled=False),
        "other_bank": webhook_services.create_webhook(other_bank, URL),
    }


def events(op) -> list[tuple[str, str]]:
    rows = WebhookDelivery.objects.filter(operation_id=op.pk).select_related("webhook")
    return sorted((row.event, str(row.webhook.pk)) for row in rows)


def expect(hooks, *pairs) -> list[tuple[str, str]]:
    return sorted((event, str(hooks[name].pk)) for event, name in pairs)


def running(bank, n=3):
    op = submit_retain(bank, n)
    assert transitions.claim(op.pk, "w1")
    return op


def test_complete_emits_operation_completed_and_the_type_event(bank, hooks):
    op = running(bank)
    transitions.complete(op.pk, "w1", {"memory_count": 3})
    assert events(op) == expect(hooks, ("operation.completed", "all"),
                                ("retain.completed", "retain"))
    row = WebhookDelivery.objects.get(operation_id=op.pk, event="operation.completed")
    assert row.payload["data"]["memory_count"] == 3 and row.payload["status"] == "completed"
    assert row.payload["event_id"] == row.event_id and row.event_id.startswith("evt_")


def test_fail_emits_only_operation_failed(bank, hooks):
    op = running(bank)
    transitions.fail(op.pk, "w1", "boom", "JobFailed")
    assert events(op) == expect(hooks, ("operation.failed", "all"), ("operation.failed", "failed"))
    row = WebhookDelivery.objects.filter(operation_id=op.pk).first()
    assert row.payload["data"]["error"] == "boom"


def test_cancel_of_pending_and_of_running_emit_only_operation_cancelled(bank, hooks):
    pending = submit_retain(bank, 2)
    transitions.cancel(pending.pk)
    assert events(pending) == expect(hooks, ("operation.cancelled", "all"))
    active = running(bank)
    transitions.cancel(active.pk)
    transitions.cancel(active.pk)  # a no-op repeat writes nothing more
    assert events(active) == expect(hooks, ("operation.cancelled", "all"))


def test_bulk_cancel_emits_one_cancelled_event_per_operation(bank, hooks):
    ops = [submit_retain(bank, 2) for _ in range(3)]
    transitions.cancel_many(Q(bank=bank))
    for op in ops:
        assert events(op) == expect(hooks, ("operation.cancelled", "all"))


def test_worker_lost_too_often_emits_operation_failed(bank, hooks):
    op = running(bank)
    assert transitions.requeue_lost(op.pk, "w1", max_attempts=1) == "failed"
    assert events(op) == expect(hooks, ("operation.failed", "all"), ("operation.failed", "failed"))


def test_requeue_after_a_lost_worker_emits_nothing(bank, hooks):
    op = running(bank)
    assert transitions.requeue_lost(op.pk, "w1", max_attempts=5) == "pending"
    assert events(op) == []


def test_operation_retried_after_failing_emits_completed_when_it_completes(bank, hooks):
    op = running(bank)
    transitions.fail(op.pk, "w1", "boom")
    transitions.retry(op.pk)
    assert transitions.claim(op.pk, "w2")
    assert events(op) == expect(hooks, ("operation.failed", "all"), ("operation.failed", "failed"))
    transitions.complete(op.pk, "w2")
    assert events(op) == expect(
        hooks, ("operation.failed", "all"), ("operation.failed", "failed"),
        ("operation.completed", "all"), ("retain.completed", "retain"),
    )


def test_consolidation_completed_is_the_regenerate_observations_event(bank, settings):
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    hook = webhook_services.create_webhook(bank, URL, events=["consolidation.completed",
                                                              "retain.completed"])
    op = submit(bank, OperationType.REGENERATE_OBSERVATIONS, {}, dispatch=False).operation
    transitions.claim(op.pk, "w1")
    transitions.complete(op.pk, "w1")
    assert events(op) == [("consolidation.completed", str(hook.pk))]


def test_no_event_without_its_state_change(bank, hooks):
    op = running(bank)
    with pytest.raises(RuntimeError), transaction.atomic():
        transitions.complete(op.pk, "w1")
        assert events(op)  # written inside the transaction...
        raise RuntimeError("the transition's transaction rolls back")
    assert events(op) == []  # ...and gone with it
    assert transitions.complete(op.pk, "w1")
    assert len(events(op)) == 2


def test_lost_complete_race_writes_no_event(bank, hooks):
    op = running(bank)
    transitions.cancel(op.pk)
    assert not transitions.complete(op.pk, "w1")
    assert events(op) == expect(hooks, ("operation.cancelled", "all"))


def test_pruning_removes_finished_deliveries_older_than_the_cutoff_keeps_pending(bank, hooks):
    for _ in range(2):
        transitions.cancel(submit_retain(bank, 1).pk)
    done = WebhookDelivery.objects.order_by("created_at").first()
    WebhookDelivery.objects.filter(pk=done.pk).update(status="delivered")
    maintenance.prune_terminal(timedelta(days=1), now=timezone.now() + timedelta(days=2))
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending"]
