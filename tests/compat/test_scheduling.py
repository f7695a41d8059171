"""Scheduling on the Hindsight-compatible surface, through the official client:
``trigger_consolidation`` is single-flight (``deduplicated``), and a deferred operation shows
its ``retry_count`` and ``next_retry_at``; a manual retry runs it now."""

from __future__ import annotations

from datetime import datetime

import pytest

from operations import transitions
from operations.models import Operation
from tests.compat.conftest import op_status, run
from tests.executors import PausedExecutor, install
from tests.factories import make_bank, submit_retain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paused():
    """Operations stay pending: nothing takes them."""
    install(PausedExecutor(2))
    yield
    install(None)


def test_consolidate_returns_the_pending_one_while_it_waits(hindsight, paused):
    make_bank("demo")
    first = run(hindsight._banks_api.trigger_consolidation("demo"))
    again = run(hindsight._banks_api.trigger_consolidation("demo"))
    assert first.deduplicated is False
    assert (again.operation_id, again.deduplicated) == (first.operation_id, True)
    assert Operation.objects.filter(type="regenerate_observations").count() == 1
    status = op_status(hindsight, "demo", first.operation_id)
    assert (status.status, status.operation_type) == ("pending", "consolidation")


def test_consolidate_of_an_unknown_bank_is_404(hindsight, live_server):
    import httpx

    response = httpx.post(f"{live_server.url}/v1/default/banks/nobody/consolidate", json={})
    assert response.status_code == 404


def test_deferred_operation_shows_retry_count_and_next_retry_at(hindsight, paused):
    bank = make_bank("demo")
    op = submit_retain(bank, 10)
    assert transitions.claim(op.pk, "w1")
    assert transitions.defer(op.pk, "w1", "lock timeout", "OperationalError", 120)
    status = op_status(hindsight, "demo", str(op.pk))
    assert (status.status, status.retry_count) == ("pending", 1)
    due = datetime.fromisoformat(status.next_retry_at)
    assert due == Operation.objects.get(pk=op.pk).next_retry_at
    listed = run(hindsight._operations_api.list_operations("demo")).operations[0]
    assert (listed.retry_count, listed.next_retry_at) == (1, status.next_retry_at)
    # A manual retry makes it eligible now (status stays pending until a worker claims it).
    run(hindsight._operations_api.retry_operation("demo", str(op.pk)))
    after = op_status(hindsight, "demo", str(op.pk))
    assert (after.status, after.next_retry_at) == ("pending", None)
