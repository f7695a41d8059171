"""The runner and the batch_retain job with real threads on a real SQLite file: chunked
commits, cancellation that stops all further commits, races, retry and restart recovery."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import time

import pytest
from django.db import transaction

from banks.jobs.batch_retain import BatchRetainJob
from banks.models import Memory
from operations import transitions
from operations.exceptions import InvalidTransition
from operations.executor import EmbeddedExecutor, get_executor
from operations.models import Operation, OperationItemFailure
from operations.registry import get_job, register
from operations.runner import run_operation
from operations.services import cancel_operation, get_operation, retry_operation
from operations.states import TERMINAL, OperationStatus, OperationType
from operations.submission import submit
from operations.workers import local_prefix, recover_dead_owners
from tests.conftest import GatedPrepareRetain, wait_idle
from tests.factories import items, submit_retain

S = OperationStatus
pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def reload(op) -> Operation:
    return Operation.objects.get(pk=op.pk)


def memories_of(op) -> int:
    return Memory.objects.filter(operation_id=op.pk).count()


def assert_exactly_once(op, expected: int) -> None:
    indexes = list(Memory.objects.filter(operation_id=op.pk).values_list("item_index", flat=True))
    assert len(indexes) == len(set(indexes)) == expected


def test_batch_with_bad_items_completes_and_lists_them(bank):
    contents = items(10)
    contents[2]["content"] = "   "
    contents[7]["content"] = ""
    op = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents}, dispatch=False).operation
    assert run_operation(op.pk) == S.COMPLETED
    op = reload(op)
    assert (op.status, op.progress, op.failed_items_count) == (S.COMPLETED, 10, 2)
    result = get_job(op.type).result(op)
    assert result["failed_items"] == [
        {"index": 2, "error": "content must not be empty"},
        {"index": 7, "error": "content must not be empty"},
    ]
    assert len(result["memory_ids"]) == 8
    assert_exactly_once(op, 8)


class SlowWriteRetain(BatchRetainJob):
    """batch_retain whose writes cost ``per_unit`` seconds a unit; records each chunk's size."""

    per_unit = 0.004

    def __init__(self) -> None:
        self.chunks: list[int] = []

    def process_chunk(self, operation, state, start, limit, deadline, prepared=None):
        outcome = super().process_chunk(operation, state, start, limit, deadline, prepared)
        time.sleep(self.per_unit * outcome.units)
        self.chunks.append(outcome.units)
        return outcome


@pytest.fixture
def recorded_chunks():
    job = SlowWriteRetain()
    original = get_job(OperationType.BATCH_RETAIN)
    register(job)
    yield job
    register(original)


def test_progress_commits_in_chunks_not_per_item(bank, settings, recorded_chunks):
    settings.HINDSIGHT_CHUNK_SIZE = 25
    settings.HINDSIGHT_CHUNK_SECONDS = 60  # sizes by count only, even on a stalled machine
    recorded_chunks.per_unit = 0
    op = submit_retain(bank, 100)
    run_operation(op.pk)
    op = reload(op)
    assert op.progress == op.total == 100
    assert op.attempt == 1 and op.stage == "done"
    assert recorded_chunks.chunks == [25, 25, 25, 25]


def test_chunks_shrink_to_the_time_budget_when_units_are_slow_to_write(bank, settings,
                                                                        recorded_chunks):
    # 4 ms a unit against a 40 ms budget: after the first chunk, about 10 units a chunk
    # instead of the 100 of HINDSIGHT_CHUNK_SIZE (which would hold the write lock 0.4 s).
    settings.HINDSIGHT_CHUNK_SIZE = 100
    settings.HINDSIGHT_CHUNK_SECONDS = 0.04
    op = submit_retain(bank, 300)
    run_operation(op.pk)
    assert reload(op).progress == 300 == sum(recorded_chunks.chunks)
    first, *rest = recorded_chunks.chunks
    assert first == 100
    assert rest and max(rest) <= 50, recorded_chunks.chunks
    assert_exactly_once(op, 300)


def test_cancelled_pending_operation_never_starts(bank):
    op = submit_retain(bank, 10)
    transitions.cancel(op.pk)
    assert run_operation(op.pk) is None
    op = reload(op)
    assert op.status == S.CANCELLED and op.started_at is None and memories_of(op) == 0


def test_nothing_is_committed_after_cancel_of_running_operation(bank, slow_chunks):
    op = submit_retain(bank, 3000, dispatch=True)
    wait_for(lambda: reload(op).progress >= 30)
    cancelled = cancel_operation(bank, op.pk)
    # The cancel never queues behind the whole operation: it wins while work is left.
    assert cancelled.status == S.CANCELLED
    at_cancel = memories_of(op)
    assert at_cancel < 3000
    for _ in range(30):  # sample for ~3 s: the count never grows again
        time.sleep(0.1)
        assert memories_of(op) == at_cancel
    wait_idle()
    op = reload(op)
    assert op.status == S.CANCELLED
    assert op.progress == at_cancel < 3000
    result = get_job(op.type).result(op)
    assert len(result["memory_ids"]) == at_cancel
    assert set(result["memory_ids"]) == {
        str(pk) for pk in Memory.objects.filter(operation_id=op.pk).values_list("id", flat=True)
    }


def test_cancel_during_chunk_preparation_neither_waits_for_it_nor_lets_it_commit(bank, settings):
    settings.HINDSIGHT_CHUNK_SIZE = 10
    job = GatedPrepareRetain()
    original = get_job(OperationType.BATCH_RETAIN)
    register(job)
    try:
        op = submit_retain(bank, 50, dispatch=True)
        assert job.preparing.wait(30)  # chunk 1 committed, chunk 2 being prepared
        # Preparation holds no database lock: the cancel's write goes through while the
        # preparation is still held at its gate (a lock would keep it until the gate opens).
        assert cancel_operation(bank, op.pk).status == S.CANCELLED
        assert not job.released.is_set()
        job.gate.set()
        wait_idle()
    finally:
        job.gate.set()
        register(original)
    op = reload(op)
    assert op.status == S.CANCELLED
    # Only the first chunk: the one being prepared at the cancel was never committed.
    assert 0 < op.progress == memories_of(op) == job.gated_at < 50


def test_cancel_versus_finish_race_ends_in_one_consistent_state(bank, settings):
    """Cancel at random moments of a short run until each outcome has happened: cancelled
    before the claim, cancelled while running (between chunks), completed first. Each must be
    consistent with the memories stored."""
    settings.HINDSIGHT_CHUNK_SIZE = 10
    rng = random.Random(7)
    outcomes: set[str] = set()
    # How long a run takes depends on the machine's load: the window to cancel in adapts,
    # growing while no run has completed first and shrinking while none was caught running.
    ceiling = 0.03
    for attempt in range(400):  # bounded; usually a few dozen runs see all three
        op = submit_retain(bank, 60, dispatch=True)
        time.sleep(0 if attempt % 3 == 0 else rng.uniform(0, ceiling))
        with contextlib.suppress(InvalidTransition):  # it finished first: also legal
            transitions.cancel(op.pk)
        wait_idle()
        final = reload(op)
        assert final.status in TERMINAL
        assert_exactly_once(op, final.progress)
        if final.status == S.COMPLETED:
            assert final.progress == memories_of(op) == 60
            outcomes.add("completed")
        else:
            assert final.status == S.CANCELLED
            # <= 60: a cancel can land after the last chunk and before the completion.
            assert memories_of(op) == final.progress <= 60
            outcomes.add("cancelled running" if final.started_at else "cancelled pending")
            if not final.started_at:
                assert final.progress == 0
        if len(outcomes) == 3:
            break
        if final.status == S.COMPLETED and "cancelled running" not in outcomes:
            ceiling /= 1.5
        elif final.status == S.CANCELLED and "completed" not in outcomes:
            ceiling *= 1.5
    assert outcomes == {"completed", "cancelled running", "cancelled pending"}


def test_retry_of_cancelled_operation_resumes_and_stores_each_item_once(bank, slow_chunks):
    op = submit_retain(bank, 3000, dispatch=True)
    wait_for(lambda: reload(op).progress >= 30)
    cancel_operation(bank, op.pk)
    wait_idle()
    done_before = reload(op).progress
    assert 0 < done_before < 3000
    with transaction.atomic():
        retry_operation(bank, op.pk)
    wait_for(lambda: reload(op).status == S.COMPLETED, timeout=60)
    op = reload(op)
    assert op.progress == op.total == 3000
    assert op.attempt == 2
    assert_exactly_once(op, 3000)


def test_retry_of_failed_operation_clears_the_error(bank):
    op = submit_retain(bank, 5)
    transitions.claim(op.pk, "w1")
    transitions.fail(op.pk, "w1", "disk full", "OSError")
    with transaction.atomic():
        retry_operation(bank, op.pk)
    wait_for(lambda: reload(op).status == S.COMPLETED)
    assert reload(op).error is None


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_operation_left_running_by_dead_process_is_resumed_exactly_once(bank, settings):
    """Restart recovery: a previous embedded process committed two chunks and died."""
    settings.HINDSIGHT_CHUNK_SIZE = 50
    op = submit_retain(bank, 400)
    executor = get_executor()
    dead_worker = f"{local_prefix('embedded')}{_dead_pid()}:1"
    assert transitions.claim(op.pk, dead_worker)
    job, operation = get_job(op.type), get_operation(bank, op.pk)
    state = job.prepare(operation)
    for start in (0, 50):
        with transaction.atomic():
            outcome = job.process_chunk(operation, state, start, 50, time.monotonic() + 5)
            assert transitions.commit_progress(op.pk, dead_worker, outcome.units)
    assert recover_dead_owners("embedded") == [str(op.pk)]
    recovered = reload(op)
    assert (recovered.status, recovered.progress, recovered.lost_count) == (S.PENDING, 100, 1)
    executor.dispatch(str(op.pk))
    wait_for(lambda: reload(op).status == S.COMPLETED)
    assert_exactly_once(op, 400)


def test_crash_inside_a_job_fails_the_operation_with_class_and_message(bank):
    op = submit_retain(bank, 3)
    # A payload the validator never let through: the job itself cannot go on.
    op.payload.data = {"contents": None}
    op.payload.save()
    assert run_operation(op.pk) == S.FAILED
    op = reload(op)
    assert op.status == S.FAILED and op.error.startswith("TypeError")
    assert op.completed_at is not None


def test_failed_items_are_never_duplicated_on_resume(bank, settings):
    settings.HINDSIGHT_CHUNK_SIZE = 4
    contents = items(12)
    contents[1]["content"] = ""
    op = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents}, dispatch=False).operation
    run_operation(op.pk)
    assert OperationItemFailure.objects.filter(operation=op).count() == 1


def test_new_executor_runs_pending_operations_left_by_a_previous_process(bank):
    ops = [submit_retain(bank, 30) for _ in range(3)]  # written, never dispatched
    executor = EmbeddedExecutor(workers=1)
    executor.start()
    for op in ops:
        wait_for(lambda op=op: reload(op).status == S.COMPLETED)
        assert_exactly_once(op, 30)
    executor.stop()
    assert executor.idle()
