"""Operations through the official client: ``list_operations`` with its filters,
``get_operation_status`` polled from pending through processing to completed,
``cancel_operation``, ``retry_operation`` and ``delete_operation``. Their methods are
coroutines, run on the client's own loop (``run``)."""

from __future__ import annotations

import json
import uuid

import pytest
from hindsight_client_api.exceptions import ApiException

from banks.models import Memory
from operations import transitions
from operations.executor import get_executor
from operations.models import Operation
from operations.states import OperationType
from operations.submission import submit
from tests.compat.conftest import op_status, run, wait_for
from tests.conftest import wait_idle
from tests.factories import make_bank, submit_retain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def undispatched(settings):
    """Pending operations stay pending: the sweeper's re-dispatch grace is out of reach."""
    settings.HINDSIGHT_DISPATCH_GRACE = 3600
    return settings


def poll_until_terminal(client, bank_id: str, op_id: str, timeout: float = 60.0) -> list:
    seen = []

    def terminal():
        status = op_status(client, bank_id, op_id)
        seen.append(status)
        return status.status in ("completed", "failed", "cancelled")

    wait_for(terminal, timeout=timeout, step=0.005)
    return seen


def watch_climbing(client, bank_id: str, op_id: str, job, steps: int = 3) -> list[int]:
    """Read the status at each of ``steps`` pauses between chunks: each read must show the
    operation processing with exactly the progress committed so far."""
    climbing = []
    for _ in range(steps):
        paused_at = job.next_pause()
        status = op_status(client, bank_id, op_id)
        assert (status.status, status.progress.processed) == ("processing", paused_at)
        climbing.append(paused_at)
        job.step()
    job.run_free()
    return climbing


def test_status_goes_from_pending_through_processing_to_completed(hindsight, undispatched,
                                                                  stepped_chunks):
    op = submit_retain(make_bank("demo"), 300)
    pending = op_status(hindsight, "demo", str(op.pk))
    assert (pending.status, pending.operation_type, pending.progress.processed) == (
        "pending", "batch_retain", 0)
    assert pending.progress.total == 300

    get_executor().dispatch(str(op.pk))
    climbing = watch_climbing(hindsight, "demo", str(op.pk), stepped_chunks)
    assert 0 < climbing[0] < climbing[1] < climbing[2] < 300
    seen = poll_until_terminal(hindsight, "demo", str(op.pk))

    statuses = [s.status for s in seen]
    assert statuses[-1] == "completed"
    assert set(statuses) <= {"processing", "completed"}
    assert all(s.progress.processed >= climbing[-1] for s in seen)
    final = seen[-1]
    assert (final.progress.processed, final.progress.total) == (300, 300)
    assert final.result_metadata["memory_ids_count"] == 300
    assert final.completed_at is not None


def test_async_retain_progress_climbs_while_processing(hindsight, stepped_chunks):
    answer = hindsight.retain_batch("demo", [{"content": f"fact {i}"} for i in range(200)],
                                    retain_async=True)
    climbing = watch_climbing(hindsight, "demo", answer.operation_id, stepped_chunks)
    assert 0 < climbing[0] < climbing[1] < climbing[2] < 200
    seen = poll_until_terminal(hindsight, "demo", answer.operation_id)
    assert seen[-1].status == "completed"
    assert Memory.objects.count() == 200


def test_list_operations_filters_by_status_type_limit_and_offset(hindsight, undispatched):
    bank = make_bank("demo")
    ops = [submit_retain(bank, 3) for _ in range(4)]  # oldest first
    transitions.cancel(ops[0].pk)
    transitions.cancel(ops[1].pk)

    everything = run(hindsight.operations.list_operations("demo"))
    assert (everything.bank_id, everything.total, everything.limit, everything.offset) == (
        "demo", 4, 20, 0)
    assert [o.id for o in everything.operations] == [str(o.pk) for o in reversed(ops)]
    row = everything.operations[0]
    assert (row.task_type, row.items_count, row.status, row.error_message) == (
        "batch_retain", 3, "pending", None)
    assert row.progress.total == 3

    cancelled = run(hindsight.operations.list_operations("demo", status="cancelled"))
    assert {o.id for o in cancelled.operations} == {str(ops[0].pk), str(ops[1].pk)}
    by_alias = run(hindsight.operations.list_operations("demo", type="retain",
                                                        exclude_parents=True))
    assert by_alias.total == 4
    other_type = run(hindsight.operations.list_operations("demo", type="consolidation"))
    assert (other_type.total, other_type.operations) == (0, [])
    page = run(hindsight.operations.list_operations("demo", limit=2, offset=1))
    assert [o.id for o in page.operations] == [str(ops[2].pk), str(ops[1].pk)]
    assert (page.total, page.limit, page.offset) == (4, 2, 1)


def test_list_operations_shows_running_as_processing(hindsight, undispatched):
    op = submit_retain(make_bank("demo"), 3)
    assert transitions.claim(op.pk, "test-worker")
    listed = run(hindsight.operations.list_operations("demo", status="processing"))
    assert [(o.id, o.status) for o in listed.operations] == [(str(op.pk), "processing")]
    assert op_status(hindsight, "demo", str(op.pk)).status == "processing"
    transitions.cancel(op.pk)


def test_list_operations_of_unknown_bank_is_404(hindsight):
    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.list_operations("nobody"))
    assert caught.value.status == 404
    assert json.loads(caught.value.body) == {"detail": "Bank 'nobody' not found"}


def test_unknown_operation_id_answers_status_not_found(hindsight):
    make_bank("demo")
    op_id = str(uuid.uuid4())
    status = op_status(hindsight, "demo", op_id)
    assert (status.operation_id, status.status, status.progress) == (op_id, "not_found", None)


def test_operation_of_another_bank_is_not_found_in_this_one(hindsight, undispatched):
    make_bank("demo")
    op = submit_retain(make_bank("other"), 3)
    assert op_status(hindsight, "demo", str(op.pk)).status == "not_found"


def test_malformed_operation_id_is_400(hindsight):
    make_bank("demo")
    with pytest.raises(ApiException) as caught:
        op_status(hindsight, "demo", "not-a-uuid")
    assert caught.value.status == 400
    assert json.loads(caught.value.body) == {"detail": "Invalid operation_id format: not-a-uuid"}


def test_cancel_pending_operation_then_409_on_the_cancelled_one(hindsight, undispatched):
    op = submit_retain(make_bank("demo"), 10)
    answer = run(hindsight.operations.cancel_operation("demo", str(op.pk)))
    assert (answer.success, answer.operation_id) == (True, str(op.pk))
    assert answer.message == f"Operation {op.pk} cancelled"
    assert op_status(hindsight, "demo", str(op.pk)).status == "cancelled"

    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.cancel_operation("demo", str(op.pk)))
    assert caught.value.status == 409
    assert json.loads(caught.value.body) == {"detail": (
        f"Operation {op.pk} cannot be cancelled: status is 'cancelled', only 'pending' and "
        "'processing' operations can be cancelled")}


def test_cancel_processing_operation_stops_it_committing(hindsight, settings):
    # 2,500 chunk commits: seconds of work, so the cancel lands while it is processing.
    settings.HINDSIGHT_CHUNK_SIZE = 2
    answer = hindsight.retain_batch("demo", [{"content": f"fact {i}"} for i in range(5000)],
                                    retain_async=True)
    op_id = answer.operation_id
    wait_for(lambda: (s := op_status(hindsight, "demo", op_id)).status == "processing"
             and s.progress.processed > 0, step=0.005)
    run(hindsight.operations.cancel_operation("demo", op_id))
    wait_idle()

    final = op_status(hindsight, "demo", op_id)
    assert final.status == "cancelled"
    assert final.progress.processed < 5000
    assert Memory.objects.filter(operation_id=op_id).count() == final.progress.processed
    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.cancel_operation("demo", op_id))
    assert caught.value.status == 409


def test_cancel_of_unknown_operation_is_404(hindsight):
    make_bank("demo")
    op_id = uuid.uuid4()
    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.cancel_operation("demo", str(op_id)))
    assert caught.value.status == 404
    assert json.loads(caught.value.body) == {
        "detail": f"Operation {op_id} not found for bank demo"}


def test_retry_of_cancelled_operation_runs_it_to_completion(hindsight, undispatched):
    op = submit_retain(make_bank("demo"), 25)
    transitions.cancel(op.pk)
    answer = run(hindsight.operations.retry_operation("demo", str(op.pk)))
    assert (answer.success, answer.message) == (True, f"Operation {op.pk} queued for retry")
    wait_for(lambda: op_status(hindsight, "demo", str(op.pk)).status == "completed")
    assert Memory.objects.filter(operation_id=op.pk).count() == 25


def test_retry_of_completed_operation_is_409(hindsight):
    answer = hindsight.retain("demo", "Alice likes tea", retain_async=True)
    wait_for(lambda: op_status(hindsight, "demo", answer.operation_id).status == "completed")
    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.retry_operation("demo", answer.operation_id))
    assert caught.value.status == 409
    assert "status is 'completed'" in json.loads(caught.value.body)["detail"]


def test_delete_operation_is_409_while_active_and_removes_it_once_terminal(
        hindsight, undispatched):
    op = submit_retain(make_bank("demo"), 5)
    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.delete_operation("demo", str(op.pk)))
    assert caught.value.status == 409
    assert "status is 'pending'" in json.loads(caught.value.body)["detail"]

    transitions.cancel(op.pk)
    answer = run(hindsight.operations.delete_operation("demo", str(op.pk)))
    assert (answer.success, answer.message) == (True, f"Operation {op.pk} deleted")
    assert not Operation.objects.filter(pk=op.pk).exists()
    with pytest.raises(ApiException) as caught:
        run(hindsight.operations.delete_operation("demo", str(op.pk)))
    assert caught.value.status == 404


def test_memory_engine_operations_carry_their_upstream_type_names(hindsight, undispatched):
    bank = make_bank("demo")
    observations = submit(bank, OperationType.REGENERATE_OBSERVATIONS, {}, dispatch=False)
    graph = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False)
    consolidation = run(hindsight.operations.list_operations("demo", type="consolidation"))
    assert [(o.id, o.task_type) for o in consolidation.operations] == [
        (str(observations.operation.pk), "consolidation")]
    maintenance = run(hindsight.operations.list_operations("demo", type="graph_maintenance"))
    assert [o.id for o in maintenance.operations] == [str(graph.operation.pk)]
    status = op_status(hindsight, "demo", str(graph.operation.pk))
    assert (status.operation_type, status.task_type) == ("graph_maintenance", "graph_maintenance")
    upstream_only = run(hindsight.operations.list_operations("demo", type="webhook_delivery"))
    assert upstream_only.total == 0
