"""``GET /metrics``: Prometheus text with the backlog an operator alerts on, read from the
database (so every process reports the same), and no bank ids in it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from operations.models import Operation
from operations.states import OperationStatus, OperationType
from operations.submission import submit
from tests.factories import make_bank, submit_retain
from tests.lifecycle import advance, backdate, walk_to

S = OperationStatus
pytestmark = pytest.mark.django_db


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples | {("body", ()): body}


def test_metrics_report_waiting_and_running_work_by_type(client):
    secret_bank, other = make_bank("customer-secret-bank"), make_bank("other")
    first = submit_retain(secret_bank, 10)
    submit_retain(secret_bank, 5)
    running = walk_to(submit_retain(other, 20), S.RUNNING)
    advance(running, 8)
    walk_to(submit_retain(other, 7), S.COMPLETED)
    walk_to(submit_retain(other, 7), S.CANCELLED)
    submit(other, OperationType.GRAPH_UPDATE, {}, dispatch=False)  # total 0: no memories
    backdate(first, timezone.now() - timedelta(minutes=2))

    samples = scrape(client)
    ops = "hindsight_operations"
    assert samples[(ops, (("status", "pending"), ("type", "batch_retain")))] == 2
    assert samples[(ops, (("status", "running"), ("type", "batch_retain")))] == 1
    assert samples[(ops, (("status", "pending"), ("type", "graph_update")))] == 1
    assert samples[(ops, (("status", "running"), ("type", "regenerate_observations")))] == 0
    backlog = "hindsight_operations_remaining_units"
    assert samples[(backlog, (("type", "batch_retain"),))] == 10 + 5 + (20 - 8)
    assert 120 <= samples[("hindsight_oldest_pending_age_seconds", ())] < 300
    assert samples[("hindsight_operations_stale", ())] == 0
    assert samples[("hindsight_database_up", ())] == 1
    assert samples[("hindsight_executor_up", (("executor", "embedded"),))] == 1
    assert "customer-secret-bank" not in samples[("body", ())]


def test_running_operation_without_a_recent_heartbeat_is_reported_stale(client, settings):
    settings.HINDSIGHT_STALE_AFTER = 30
    op = walk_to(submit_retain(make_bank(), 10), S.RUNNING)
    assert scrape(client)[("hindsight_operations_stale", ())] == 0
    Operation.objects.filter(pk=op.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert scrape(client)[("hindsight_operations_stale", ())] == 1


def test_no_pending_work_reports_zero_age(client):
    assert scrape(client)[("hindsight_oldest_pending_age_seconds", ())] == 0
