"""Both memory-engine job types go through the shared runner: cancel mid-run stops them at a
chunk boundary with nothing committed after the cancel, retry resumes to completion, and the
reaper requeues a run whose worker died."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from banks.models import MemoryLink, Observation
from operations import services, transitions
from operations.executor import get_executor
from operations.models import Operation
from operations.reaper import sweep
from operations.registry import get_job
from operations.runner import run_operation
from operations.states import OperationStatus, OperationType, is_terminal
from operations.submission import submit

pytestmark = pytest.mark.django_db(transaction=True)


def retain_corpus(bank, n):
    """``n`` memories, each with its own entity plus two shared ones, so every memory links and
    there are ``n + 20`` entities."""
    contents = [{"content": f"Person{i} met Friend{i % 10} in City{i % 10}."} for i in range(n)]
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents},
                       dispatch=False).operation
    assert run_operation(operation.pk) == OperationStatus.COMPLETED


def run_in_thread(operation_id):
    def target():
        try:
            run_operation(operation_id)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def wait_terminal(operation, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if is_terminal(operation.status):
            return operation
        time.sleep(0.02)
    raise AssertionError(f"{operation.pk} still {operation.status} after {timeout} s")


def cancel_mid_run(bank, operation):
    """Cancel once the first chunks are committed; return the progress the cancel saw."""
    thread = run_in_thread(operation.pk)
    deadline = time.monotonic() + 30
    while Operation.objects.get(pk=operation.pk).progress == 0:
        assert time.monotonic() < deadline, "no chunk committed in 30 s"
        time.sleep(0.002)
    cancelled = services.cancel_operation(bank, operation.pk)
    thread.join(timeout=30)
    assert not thread.is_alive()
    return cancelled


@pytest.mark.parametrize("op_type, written", [
    (OperationType.REGENERATE_OBSERVATIONS,
     lambda op: Observation.objects.filter(operation=op).count()),
    (OperationType.GRAPH_UPDATE,
     lambda op: MemoryLink.objects.filter(operation=op).values("source").distinct().count()),
])
def test_cancel_mid_run_commits_nothing_after_and_retry_completes(
    bank, settings, op_type, written
):
    settings.HINDSIGHT_CHUNK_SIZE = 5
    retain_corpus(bank, 600)
    operation = submit(bank, op_type, {}, dispatch=False).operation
    cancelled = cancel_mid_run(bank, operation)
    assert cancelled.status == OperationStatus.CANCELLED
    operation.refresh_from_db()
    assert 0 < operation.progress < operation.total
    # Progress shows exactly what was committed, and nothing was committed after the cancel.
    assert written(operation) == operation.progress >= cancelled.progress
    time.sleep(0.2)
    assert written(operation) == Operation.objects.get(pk=operation.pk).progress

    # Retry dispatches on commit: the embedded executor resumes it from committed progress.
    services.retry_operation(bank, operation.pk)
    operation = wait_terminal(operation)
    assert operation.status == OperationStatus.COMPLETED
    assert operation.progress == operation.total
    assert written(operation) == operation.total


@pytest.mark.parametrize("op_type", [OperationType.REGENERATE_OBSERVATIONS,
                                     OperationType.GRAPH_UPDATE])
def test_reaper_requeues_a_lost_run_which_resumes_from_committed_progress(bank, op_type):
    retain_corpus(bank, 40)
    operation = submit(bank, op_type, {}, dispatch=False).operation
    # A worker claims it, commits one chunk of 7 units the way the runner does, then dies.
    assert transitions.claim(operation.pk, "lost-worker")
    operation.refresh_from_db()
    job = get_job(op_type)
    state = job.prepare(operation)
    with transaction.atomic():
        outcome = job.process_chunk(operation, state, 0, 7, time.monotonic() + 60)
        assert transitions.commit_progress(operation.pk, "lost-worker", outcome.units)
    time.sleep(0.01)  # the heartbeat is now older than stale_after=0
    outcome = sweep(get_executor().dispatch, stale_after=0, grace=3600, max_attempts=3)
    assert outcome.requeued == [str(operation.pk)]
    operation = wait_terminal(operation)  # re-dispatched to the embedded executor
    assert (operation.status, operation.progress, operation.lost_count) == (
        OperationStatus.COMPLETED, operation.total, 1)
    if op_type == OperationType.GRAPH_UPDATE:
        assert MemoryLink.objects.filter(operation=operation).values("source").distinct(
        ).count() == 40
    else:
        assert Observation.objects.filter(operation=operation).count() == operation.total
