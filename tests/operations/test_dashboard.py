"""The dashboard's figures (operations.dashboard): operations counted in the bar of their
start or finish, by type and outcome, within the window only and for one bank when asked;
exact nearest-rank percentiles of queue wait and run time; stale and retrying operations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from operations import dashboard, transitions
from operations.models import Operation
from operations.states import OperationStatus, OperationType
from operations.submission import submit
from tests.factories import make_bank, submit_retain
from tests.lifecycle import advance, walk_to

S = OperationStatus
pytestmark = pytest.mark.django_db


def placed(op: Operation, created, waited: float, ran: float | None) -> Operation:
    """Put an operation's timeline at ``created``, started ``waited`` s later and finished
    ``ran`` s after that (timestamps only; status set by the transitions before)."""
    started = created + timedelta(seconds=waited)
    changes = {"created_at": created, "started_at": started}
    if ran is not None:
        changes["completed_at"] = started + timedelta(seconds=ran)
    Operation.objects.filter(pk=op.pk).update(**changes)
    return Operation.objects.get(pk=op.pk)


def approx(seconds: float):
    return pytest.approx(seconds, abs=1e-3)


def completed_batch(bank, units: int) -> Operation:
    op = walk_to(submit_retain(bank, units), S.RUNNING)
    advance(op, units)
    assert transitions.complete(op.pk, "test-worker")
    return op


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert dashboard.percentile(values, 0.5) == 50.0
    assert dashboard.percentile(values, 0.95) == 95.0
    assert dashboard.percentile([7.0], 0.95) == 7.0
    assert dashboard.percentile([], 0.5) is None


def test_hour_window_counts_starts_and_finishes_in_their_minute_by_type_and_outcome(bank):
    window = dashboard.WINDOWS["hour"]
    now = timezone.now()
    board_end = dashboard.build(window, now=now).end
    minute_ago = board_end - timedelta(minutes=1, seconds=30)  # in the second-to-last bar
    for op in (completed_batch(bank, 10), completed_batch(bank, 10),
               walk_to(submit_retain(bank, 10), S.FAILED)):
        placed(op, minute_ago - timedelta(seconds=5), waited=2, ran=1)
    graph = walk_to(submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False).operation,
                    S.COMPLETED)
    placed(graph, minute_ago - timedelta(seconds=5), waited=2, ran=1)
    old = walk_to(submit_retain(bank), S.COMPLETED)
    placed(old, now - timedelta(hours=2), waited=1, ran=1)  # outside the window
    cancelled = walk_to(submit_retain(bank), S.CANCELLED)  # never started: finished only

    board = dashboard.build(window, now=now)
    assert window.buckets == len(board.bar_starts()) == 60
    assert board.started["batch_retain"][58] == 3
    assert sum(board.started["batch_retain"]) == 3  # the old one is not in the window
    assert board.started["graph_update"][58] == 1
    assert board.finished[("batch_retain", S.COMPLETED)][58] == 2
    assert board.finished[("batch_retain", S.FAILED)][58] == 1
    assert board.finished[("batch_retain", S.CANCELLED)][-1] == 1
    assert cancelled.pk not in {op.pk for op in dashboard.running()[0]}
    assert board.totals["started"] == 4
    assert board.totals["finished"] == {"completed": 3, "failed": 1, "cancelled": 1}
    # Completed batches of 10: all their units counted in their bar, per second of the bar.
    assert board.units_per_second["batch_retain"][58] == pytest.approx(20 / 60)


def test_wait_and_run_percentiles_per_type(bank):
    now = timezone.now()
    base = now - timedelta(minutes=30)
    for i in range(1, 21):  # waits 1..20 s, runs 10..200 s
        placed(walk_to(submit_retain(bank), S.COMPLETED), base + timedelta(seconds=i),
               waited=i, ran=10 * i)
    board = dashboard.build(dashboard.WINDOWS["hour"], now=now)
    wait, run = board.queue_wait["batch_retain"], board.run_time["batch_retain"]
    # SQLite's julianday arithmetic is exact to ~0.1 ms at today's dates.
    assert (wait.count, wait.p50, wait.p95) == (20, approx(10), approx(19))
    assert (run.count, run.p50, run.p95) == (20, approx(100), approx(190))


def test_one_bank_sees_only_its_operations(bank, other_bank):
    now = timezone.now()
    placed(walk_to(submit_retain(bank), S.COMPLETED), now - timedelta(minutes=5), 1, 1)
    placed(walk_to(submit_retain(other_bank), S.FAILED), now - timedelta(minutes=5), 1, 1)
    board = dashboard.build(dashboard.WINDOWS["day"], other_bank, now=now)
    assert board.totals["finished"] == {"completed": 0, "failed": 1, "cancelled": 0}
    assert set(board.queue_wait) == {"batch_retain"} and board.queue_wait["batch_retain"].count == 1


def test_week_window_has_two_hour_bars_and_keeps_a_six_day_old_finish(bank):
    now = timezone.now()
    placed(walk_to(submit_retain(bank), S.COMPLETED), now - timedelta(days=6), 1, 1)
    placed(walk_to(submit_retain(bank), S.COMPLETED), now - timedelta(days=8), 1, 1)
    board = dashboard.build(dashboard.WINDOWS["week"], now=now)
    assert len(board.bar_starts()) == 84
    assert board.totals["finished"]["completed"] == 1


def test_stale_and_retrying_operations_are_listed_healthy_ones_are_not(bank, settings):
    settings.HINDSIGHT_STALE_AFTER = 30
    healthy = walk_to(submit_retain(bank), S.RUNNING)
    stale = walk_to(submit_retain(bank), S.RUNNING)
    Operation.objects.filter(pk=stale.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5))
    lost = walk_to(submit_retain(bank), S.RUNNING, worker_id="gone")
    assert transitions.requeue_lost(lost.pk, "gone", max_attempts=3) == S.PENDING
    rows, count = dashboard.stale_or_retrying()
    assert {op.pk for op in rows} == {stale.pk, lost.pk} and count == 2
    running, running_count = dashboard.running()
    assert {op.pk for op in running} == {healthy.pk, stale.pk} and running_count == 2
    assert dashboard.pending_count() == 1


def test_executor_state_reports_the_embedded_pool():
    state = dashboard.executor_state()
    assert state["status"] == "ok" and state["type"] == "embedded"
    assert {"workers", "in_flight"} <= set(state)


def test_other_banks_are_left_out(db):
    mine, theirs = make_bank("mine"), make_bank("theirs")
    op = walk_to(submit_retain(theirs), S.RUNNING)
    assert dashboard.running(mine)[0] == [] and dashboard.running(theirs)[0][0].pk == op.pk


def test_executor_state_lists_rq_workers_from_redis(settings, redis_server, redis_url):
    from rq import Queue, Worker

    from operations.rq_executor import RQExecutor

    redis_server.flush()
    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    executor = RQExecutor()
    worker = Worker([Queue("default", connection=executor.connection())],
                    connection=executor.connection(), name="dash-worker-1")
    worker.register_birth()
    try:
        state = dashboard.executor_state(executor)
        assert state["status"] == "ok" and state["type"] == "rq"
        assert [w["name"] for w in state["worker_list"]] == ["dash-worker-1"]
        assert state["worker_list"][0]["job"] == ""
    finally:
        worker.register_death()
