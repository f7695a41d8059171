"""Liveness without any queue: the heartbeat proves a worker is alive, the reaper takes back
operations whose worker went silent (resuming from committed progress, or failing a poison pill
after ``max_attempts``), and the outbox sweep re-dispatches pending rows nobody claimed.

These run on whatever database ``DATABASE_URL`` names: SQLite by default, PostgreSQL when
``tests/scale/test_postgres_suite.py`` re-runs this directory against a real cluster."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from banks.models import Memory
from operations import reaper, transitions
from operations.executor import get_executor
from operations.heartbeat import beating
from operations.models import Operation
from operations.registry import get_job
from operations.states import OperationStatus
from tests.factories import submit_retain

S = OperationStatus
pytestmark = pytest.mark.django_db(transaction=True)


def reload(op) -> Operation:
    return Operation.objects.get(pk=op.pk)


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def commit_chunks(op, worker_id: str, starts: list[int], size: int) -> None:
    """What a worker does before it dies: process and commit some chunks."""
    job, operation = get_job(op.type), Operation.objects.select_related("bank").get(pk=op.pk)
    state = job.prepare(operation)
    for start in starts:
        with transaction.atomic():
            outcome = job.process_chunk(operation, state, start, size, time.monotonic() + 5)
            assert transitions.commit_progress(op.pk, worker_id, outcome.units)


def test_stale_operation_is_requeued_and_resumed_exactly_once(bank, settings):
    settings.HINDSIGHT_CHUNK_SIZE = 40
    op = submit_retain(bank, 200)
    assert transitions.claim(op.pk, "dead-worker")
    commit_chunks(op, "dead-worker", [0, 40], 40)
    # The dead worker's last beat, an hour ago: stale for this sweep's 10-minute threshold (no
    # stall of the machine matters), not for the executor's background sweeper, given 2 hours
    # so that it cannot take this operation first.
    settings.HINDSIGHT_STALE_AFTER = 7200
    hour_ago = timezone.now() - timedelta(hours=1)
    Operation.objects.filter(pk=op.pk).update(started_at=hour_ago, heartbeat_at=hour_ago)
    outcome = reaper.sweep(get_executor().dispatch, stale_after=600)

    assert outcome.requeued == [str(op.pk)] and str(op.pk) in outcome.redispatched
    wait_for(lambda: reload(op).status == S.COMPLETED)
    done = reload(op)
    assert (done.progress, done.attempt, done.lost_count) == (200, 2, 1)
    indexes = list(Memory.objects.filter(operation_id=op.pk).values_list("item_index", flat=True))
    assert sorted(indexes) == list(range(200))


def test_operation_lost_max_attempts_times_fails_as_worker_lost(bank):
    op = submit_retain(bank, 5)
    for attempt in (1, 2, 3):
        assert transitions.claim(op.pk, f"doomed-{attempt}")
        outcome = transitions.reap_stale(stale_after=-1, max_attempts=3)
        expected = S.FAILED if attempt == 3 else S.PENDING
        assert reload(op).status == expected
        assert (outcome.failed if attempt == 3 else outcome.requeued) == [str(op.pk)]
    failed = reload(op)
    assert failed.error == "worker lost after 3 attempts"
    assert failed.completed_at is not None and failed.lost_count == 3
    assert not transitions.claim(op.pk, "another")  # a poison pill never runs again by itself


def test_live_heartbeat_keeps_a_slow_operation_from_being_reaped(bank):
    op = submit_retain(bank, 5)
    assert transitions.claim(op.pk, "slow-worker")
    # Claimed and last beaten an hour ago: stale by every measure but a fresh heartbeat. The
    # stale-after of 10 minutes leaves room for any stall of the machine between beat and reap.
    hour_ago = timezone.now() - timedelta(hours=1)
    Operation.objects.filter(pk=op.pk).update(started_at=hour_ago, heartbeat_at=hour_ago)
    with beating(op.pk, "slow-worker", interval=0.05):
        wait_for(lambda: reload(op).heartbeat_at > hour_ago + timedelta(minutes=30))
        outcome = transitions.reap_stale(stale_after=600, max_attempts=3)
    assert outcome.requeued == [] and outcome.failed == []
    assert reload(op).status == S.RUNNING
    # Without the heart the same row is reaped once its beat is older than stale-after.
    Operation.objects.filter(pk=op.pk).update(heartbeat_at=hour_ago)
    assert transitions.reap_stale(stale_after=600, max_attempts=3).requeued == [str(op.pk)]


def test_heartbeat_stops_by_itself_once_the_operation_is_cancelled(bank):
    op = submit_retain(bank, 5)
    assert transitions.claim(op.pk, "w1")
    with beating(op.pk, "w1", interval=0.05) as heart:
        transitions.cancel(op.pk)
        wait_for(lambda: heart.lost)
    assert reload(op).status == S.CANCELLED


def test_unclaimed_pending_is_redispatched_after_grace_and_not_on_every_pass(bank):
    op = submit_retain(bank, 5)
    dispatched: list[str] = []
    # A grace of 10 minutes: no stall of the machine lets the grace run out between passes.
    reaper.sweep(dispatched.append, grace=600)
    assert dispatched == []  # just submitted: its own on-commit dispatch is still in flight
    Operation.objects.filter(pk=op.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    reaper.sweep(dispatched.append, grace=600)
    assert dispatched == [str(op.pk)]
    reaper.sweep(dispatched.append, grace=600)
    assert dispatched == [str(op.pk)]  # picked once per grace period, not hammered
    assert reload(op).status == S.PENDING


def test_concurrent_sweeps_reap_each_stale_operation_exactly_once(bank):
    ops = [submit_retain(bank, 3) for _ in range(20)]
    for op in ops:
        assert transitions.claim(op.pk, f"gone-{op.pk}")
    results: list[list[str]] = []
    barrier = threading.Barrier(3)

    def sweeper() -> None:
        try:
            barrier.wait()
            results.append(transitions.reap_stale(stale_after=-1, max_attempts=5).requeued)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    reaped = [pk for batch in results for pk in batch]
    assert sorted(reaped) == sorted(str(op.pk) for op in ops)  # each once, none twice
    assert set(Operation.objects.filter(pk__in=[o.pk for o in ops])
               .values_list("lost_count", flat=True)) == {1}
