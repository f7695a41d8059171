"""Scheduling with real threads on a real SQLite file: which operation starts next (fair across
banks, FIFO when switched off), single-flight maintenance, automatic retry of transient errors
with the delays actually waited, time limits, and retention run by the sweeper."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from banks.jobs.batch_retain import BatchRetainJob
from banks.models import Memory
from operations import retention, scheduler, transitions
from operations.exceptions import JobFailed, TransientError
from operations.executor import EmbeddedExecutor
from operations.models import Operation
from operations.registry import get_job, register
from operations.runner import backoff_delay
from operations.services import retry_operation
from operations.states import OperationStatus, OperationType
from operations.submission import submit
from operations.sweeper import Sweeper
from tests.executors import PausedExecutor, install
from tests.factories import items, make_bank

S = OperationStatus
pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 60.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not reached within {timeout}s")


def waiting(bank, n: int = 10):
    """A batch_retain waiting for the scheduler (submitted, its wake-up not delivered)."""
    op = submit(bank, OperationType.BATCH_RETAIN, {"contents": items(n)}, dispatch=False).operation
    Operation.objects.filter(pk=op.pk).update(dispatched_at=None)
    return op


# --- Which operation starts next ------------------------------------------------------------


def test_next_operation_comes_from_the_bank_with_fewest_running(db):
    a, b = make_bank("a"), make_bank("b")
    a_ops = [waiting(a) for _ in range(4)]
    b_op = waiting(b)
    assert scheduler.take_next(1) == [str(a_ops[0].pk)]  # tie (nothing running): oldest
    assert transitions.claim(a_ops[0].pk, "w1")
    # A has one running, B none: B's operation jumps A's older backlog.
    assert scheduler.take_next(1) == [str(b_op.pk)]
    assert scheduler.take_next(2) == [str(a_ops[1].pk), str(a_ops[2].pk)]


def test_several_choices_alternate_between_banks(db):
    a, b = make_bank("a"), make_bank("b")
    a_ops = [waiting(a) for _ in range(3)]
    b_ops = [waiting(b) for _ in range(3)]
    order = scheduler.take_next(4)
    assert order == [str(a_ops[0].pk), str(b_ops[0].pk), str(a_ops[1].pk), str(b_ops[1].pk)]


def test_fifo_when_fair_scheduling_is_off(db, settings):
    settings.HINDSIGHT_FAIR_SCHEDULING = False
    a, b = make_bank("a"), make_bank("b")
    a_ops = [waiting(a) for _ in range(3)]
    waiting(b)
    assert scheduler.take_next(2) == [str(a_ops[0].pk), str(a_ops[1].pk)]


def test_slots_bound_the_operations_in_hand(db):
    a = make_bank("a")
    ops = [waiting(a) for _ in range(4)]
    assert transitions.claim(ops[0].pk, "w1")  # one running
    assert scheduler.take_next(10, slots=2) == [str(ops[1].pk)]
    assert scheduler.take_next(10, slots=2) == []
    assert scheduler.take_next(10, slots=3) == [str(ops[2].pk)]


def test_deferred_operation_is_not_taken_before_its_retry_time(db):
    a = make_bank("a")
    op = waiting(a)
    Operation.objects.filter(pk=op.pk).update(next_retry_at=timezone.now() + timedelta(hours=1))
    assert scheduler.take_next(1) == []
    assert 3500 < scheduler.seconds_until_due() <= 3600
    Operation.objects.filter(pk=op.pk).update(next_retry_at=timezone.now())
    assert scheduler.take_next(1) == [str(op.pk)]


def test_operations_run_inline_are_never_handed_to_another_runner(db):
    op = submit(make_bank("a"), OperationType.BATCH_RETAIN, {"contents": items(3)},
                dispatch=False).operation
    assert scheduler.take_next(5) == []
    assert transitions.claim(op.pk, "inline")


class SlowRetain(BatchRetainJob):
    delay = 0.02

    def process_chunk(self, operation, state, start, limit, deadline, prepared=None):
        time.sleep(self.delay)
        return super().process_chunk(operation, state, start, limit, deadline, prepared)


@pytest.fixture
def slow_retain(settings):
    settings.HINDSIGHT_CHUNK_SIZE = 10
    original = get_job(OperationType.BATCH_RETAIN)
    register(SlowRetain())
    yield
    register(original)


@pytest.fixture(autouse=True)
def _own_executor():
    """No other executor thread or sweeper takes this module's operations; the next module
    gets a fresh executor."""
    install(PausedExecutor(2))
    yield
    install(None)


@pytest.fixture
def pool(_own_executor):
    """A fresh two-thread embedded executor (the process's executor for the test)."""
    executor = EmbeddedExecutor(2)
    install(executor)
    return executor


class GatedRetain(BatchRetainJob):
    """batch_retain whose operations stop before their second chunk until the test opens their
    own gate (``open``) or every gate (``open_all``): which runner is busy, and for how long,
    is the test's decision, never the machine's speed. An operation of one chunk never waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}
        self._all = threading.Event()

    def gate(self, pk) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(str(pk), threading.Event())

    def open(self, operation) -> None:
        self.gate(operation.pk).set()

    def open_all(self) -> None:
        self._all.set()
        with self._lock:
            for gate in self._gates.values():
                gate.set()

    def prepare_chunk(self, operation, state, start, limit, deadline):
        if start > 0 and not self._all.is_set():
            self.gate(operation.pk).wait(120)
        return super().prepare_chunk(operation, state, start, limit, deadline)


@pytest.fixture
def gated_retain(settings):
    settings.HINDSIGHT_CHUNK_SIZE = 10
    original = get_job(OperationType.BATCH_RETAIN)
    job = GatedRetain()
    register(job)
    yield job
    job.open_all()
    register(original)


def running_in(bank, count: int) -> list:
    """Wait until exactly ``count`` of the bank's operations run (held at their gates)."""
    def exactly() -> list | None:
        ops = list(Operation.objects.filter(bank=bank, status=S.RUNNING))
        return ops if len(ops) == count else None

    return wait_for(exactly)


def all_done() -> None:
    wait_for(lambda: not Operation.objects.filter(status__in=(S.PENDING, S.RUNNING)).exists(),
             timeout=120)


def backlog_then_one(pool, gated_retain):
    """Bank A's six operations, two of them running and held; then bank B's small one; then
    exactly one runner freed (A's first running operation finishes)."""
    a, b = make_bank("importer"), make_bank("small")
    a_ops = [waiting(a, 40) for _ in range(6)]
    pool.wake()
    held = running_in(a, 2)
    b_op = waiting(b, 10)
    pool.wake()
    gated_retain.open(held[0])
    return a, a_ops, held, b_op


def test_one_banks_backlog_does_not_hold_back_another_bank(gated_retain, pool):
    _, a_ops, held, b_op = backlog_then_one(pool, gated_retain)
    b_done = wait_for(lambda: (op := Operation.objects.get(pk=b_op.pk)).status == S.COMPLETED
                      and op)
    # The freed runner took B before any of A's waiting backlog; after B it goes on with A's.
    for op in a_ops:
        op.refresh_from_db()
        if op.pk not in {h.pk for h in held}:
            assert op.status == S.PENDING or op.started_at >= b_done.completed_at, op
    gated_retain.open_all()
    all_done()
    assert Operation.objects.filter(status=S.COMPLETED).count() == 7


def test_with_fairness_off_the_other_bank_waits_for_the_whole_backlog(gated_retain, pool,
                                                                       settings):
    settings.HINDSIGHT_FAIR_SCHEDULING = False
    a, a_ops, held, b_op = backlog_then_one(pool, gated_retain)
    # The freed runner took A's next operation (now held at its gate), not B's.
    wait_for(lambda: Operation.objects.get(pk=held[0].pk).status == S.COMPLETED)
    now_running = running_in(a, 2)
    assert a_ops[2].pk in {op.pk for op in now_running}
    assert Operation.objects.get(pk=b_op.pk).status == S.PENDING
    gated_retain.open_all()
    all_done()
    b_op.refresh_from_db()
    assert b_op.status == S.COMPLETED


def test_a_bank_alone_uses_every_thread(gated_retain, pool):
    a = make_bank("alone")
    [waiting(a, 40) for _ in range(4)]
    pool.wake()
    running_in(a, 2)  # two of the same bank's operations run at once
    gated_retain.open_all()
    all_done()
    assert Operation.objects.filter(bank=a, status=S.COMPLETED).count() == 4


# --- Single-flight maintenance --------------------------------------------------------------


def test_identical_pending_maintenance_is_deduplicated(db):
    bank = make_bank("a")
    first = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False)
    again = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False)
    assert (again.operation.pk, again.created, again.deduplicated) == (
        first.operation.pk, False, True)
    other_bank = submit(make_bank("b"), OperationType.GRAPH_UPDATE, {}, dispatch=False)
    assert other_bank.created and other_bank.operation.pk != first.operation.pk
    batch = submit(bank, OperationType.BATCH_RETAIN, {"contents": items(2)}, dispatch=False)
    batch_again = submit(bank, OperationType.BATCH_RETAIN, {"contents": items(2)},
                         dispatch=False)
    assert batch_again.created and not batch_again.deduplicated
    assert batch.operation.pk != batch_again.operation.pk


def test_maintenance_is_not_deduplicated_once_the_first_one_runs(db):
    bank = make_bank("a")
    first = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False).operation
    assert transitions.claim(first.pk, "w1")
    second = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False)
    assert second.created and not second.deduplicated
    # ...but it does not start while the first one runs.
    Operation.objects.filter(pk=second.operation.pk).update(dispatched_at=None)
    assert scheduler.take_next(5) == []
    transitions.complete(first.pk, "w1")
    assert scheduler.take_next(5) == [str(second.operation.pk)]


def test_native_submit_says_deduplicated(api, db):
    make_bank("alpha")
    url = "/api/banks/alpha/operations/"
    first = api.post(url, {"type": "graph_update"}, format="json")
    again = api.post(url, {"type": "graph_update"}, format="json")
    assert first.status_code == 202 and first.json()["deduplicated"] is False
    assert again.status_code == 200 and again.json()["deduplicated"] is True
    assert again.json()["operation_id"] == first.json()["operation_id"]


# --- Automatic retry ------------------------------------------------------------------------


class FlakyRetain(BatchRetainJob):
    """Raises ``error`` at item ``at`` on its first ``times`` runs; records when each run
    started, each failure happened, and the ``next_retry_at`` each run was resumed at."""

    def __init__(self, times: int, at: int = 30, error: type[Exception] = TransientError):
        self.times, self.at, self.error = times, at, error
        self.failures: list = []
        self.runs: list = []

    def prepare(self, operation):
        self.runs.append((timezone.now(), operation.next_retry_at, operation.progress))
        return super().prepare(operation)

    def process_chunk(self, operation, state, start, limit, deadline, prepared=None):
        if start <= self.at < start + limit and len(self.failures) < self.times:
            self.failures.append(timezone.now())
            raise self.error("upstream briefly unavailable")
        return super().process_chunk(operation, state, start, limit, deadline, prepared)


@pytest.fixture
def flaky(settings):
    settings.HINDSIGHT_CHUNK_SIZE = 10
    settings.HINDSIGHT_CHUNK_SECONDS = 60  # chunks of exactly 10: the fault is at item 30
    settings.HINDSIGHT_RETRY_SCHEDULE = [0.4, 0.8]
    settings.HINDSIGHT_MAX_RETRIES = 3
    settings.HINDSIGHT_SWEEP_INTERVAL = 30.0  # deferred runs are woken when due, not by polling
    original = get_job(OperationType.BATCH_RETAIN)

    def install(*args, **kwargs) -> FlakyRetain:
        return register(FlakyRetain(*args, **kwargs))

    yield install
    register(original)


def test_transient_errors_are_retried_after_the_backoff_and_store_each_item_once(flaky, pool):
    job = flaky(times=2)
    op = waiting(make_bank("a"), 100)
    pool.wake()
    done = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).status in (S.COMPLETED,
                                                                                S.FAILED) and o)
    assert done.status == S.COMPLETED, done.error
    assert (done.retry_count, done.progress, done.error) == (2, 100, None)
    assert done.last_error == "TransientError: upstream briefly unavailable"
    assert Memory.objects.filter(operation=op).count() == 100
    assert len(job.runs) == 3
    for n, (failed_at, (resumed_at, due, progress)) in enumerate(
        zip(job.failures, job.runs[1:], strict=True), start=1
    ):
        # The delay drawn is within retry n's base (full jitter), and it was really waited...
        assert timedelta(0) <= due - failed_at <= timedelta(seconds=[0.4, 0.8][n - 1] + 0.1)
        assert resumed_at >= due
        # ...but not much longer: the sweeper wakes the executor when the retry is due.
        assert resumed_at - due < timedelta(seconds=10)
        assert progress == 30  # resumed from the committed progress


def test_retries_used_up_fail_with_the_last_error(flaky, pool, settings):
    settings.HINDSIGHT_MAX_RETRIES = 2
    settings.HINDSIGHT_RETRY_SCHEDULE = [0.05]
    flaky(times=10)
    op = waiting(make_bank("a"), 100)
    pool.wake()
    done = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).status == S.FAILED and o)
    assert done.retry_count == 2
    assert done.error == "TransientError: upstream briefly unavailable"
    assert done.progress == 30


def test_job_failed_fails_at_once(flaky, pool):
    flaky(times=1, error=JobFailed)
    op = waiting(make_bank("a"), 100)
    pool.wake()
    done = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).status == S.FAILED and o)
    assert (done.retry_count, done.error, done.next_retry_at) == (
        0, "upstream briefly unavailable", None)


def test_database_operational_error_is_transient(flaky, pool):
    from django.db import OperationalError

    job = flaky(times=1, error=OperationalError)
    op = waiting(make_bank("a"), 50)
    pool.wake()
    done = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).status == S.COMPLETED and o)
    assert done.retry_count == 1 and len(job.runs) == 2
    assert Memory.objects.filter(operation=op).count() == 50


def test_manual_retry_of_a_deferred_operation_runs_it_now(flaky, pool, settings):
    settings.HINDSIGHT_RETRY_SCHEDULE = [1e9]  # would wait forever without the manual retry
    flaky(times=1)
    bank = make_bank("a")
    op = waiting(bank, 50)
    pool.wake()
    deferred = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).retry_count == 1 and o)
    assert deferred.status == S.PENDING and deferred.next_retry_at > timezone.now()
    retry_operation(bank, op.pk)
    done = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).status == S.COMPLETED and o,
                    timeout=30)
    assert done.retry_count == 1


def test_backoff_is_full_jitter_within_each_retrys_base():
    import random

    rng = random.Random(7)
    delays = [backoff_delay(n, [5, 30, 120], rng) for n in (1, 2, 3, 4) for _ in range(200)]
    assert all(0 <= d <= 5 for d in delays[:200])
    assert all(0 <= d <= 30 for d in delays[200:400])
    assert all(0 <= d <= 120 for d in delays[400:])
    assert max(delays[600:]) > 60  # the last base repeats, the whole range is used


# --- Time limits ----------------------------------------------------------------------------


def test_time_limit_fails_at_a_chunk_boundary_and_keeps_committed_work(slow_retain, pool,
                                                                        settings):
    settings.HINDSIGHT_TIME_LIMITS = {**settings.HINDSIGHT_TIME_LIMITS, "batch_retain": 0.3}
    op = waiting(make_bank("a"), 3000)
    pool.wake()
    done = wait_for(lambda: (o := Operation.objects.get(pk=op.pk)).status == S.FAILED and o)
    assert 0 < done.progress < 3000
    assert done.error == f"time limit of 0.3 s exceeded at progress {done.progress}/3000"
    assert Memory.objects.filter(operation=op).count() == done.progress


# --- Retention ------------------------------------------------------------------------------


def finished(bank, days_ago: float) -> Operation:
    op = submit(bank, OperationType.BATCH_RETAIN, {"contents": items(1)}, dispatch=False).operation
    transitions.claim(op.pk, "w")
    transitions.complete(op.pk, "w")
    when = timezone.now() - timedelta(days=days_ago)
    Operation.objects.filter(pk=op.pk).update(created_at=when, completed_at=when)
    return op


def test_sweeper_prunes_expired_terminal_operations_in_bounded_batches(db, settings):
    settings.HINDSIGHT_RETENTION_DAYS = 7
    bank = make_bank("a")
    old = [finished(bank, 8) for _ in range(5)]
    recent = finished(bank, 1)
    active = waiting(bank)
    Operation.objects.filter(pk=active.pk).update(created_at=timezone.now() - timedelta(days=30))
    assert retention.prune_expired(batch=2, max_batches=2) == 4
    sweeper = Sweeper(lambda pk: None, name="test-sweeper")
    sweeper.sweep_once()
    left = set(Operation.objects.values_list("pk", flat=True))
    assert left == {recent.pk, active.pk}
    assert not Operation.objects.filter(pk__in=[o.pk for o in old]).exists()


def test_retention_zero_keeps_everything(db, settings):
    settings.HINDSIGHT_RETENTION_DAYS = 0
    op = finished(make_bank("a"), 3650)
    Sweeper(lambda pk: None, name="test-sweeper").sweep_once()
    assert Operation.objects.filter(pk=op.pk).exists()


def test_embedded_executor_threads_do_not_run_one_operation_twice(slow_retain, pool):
    ops = [waiting(make_bank(f"b{i}"), 30) for i in range(6)]
    wakers = [threading.Thread(target=pool.wake) for _ in range(10)]
    for t in wakers:
        t.start()
    for t in wakers:
        t.join()
    wait_for(lambda: not Operation.objects.filter(status__in=(S.PENDING, S.RUNNING)).exists())
    for op in ops:
        op.refresh_from_db()
        assert (op.status, op.attempt) == (S.COMPLETED, 1)
    assert Memory.objects.count() == 180


# --- Where a deferred operation is shown ----------------------------------------------------


def deferred(bank, delay: float = 120.0) -> Operation:
    op = submit(bank, OperationType.BATCH_RETAIN, {"contents": items(10)}, dispatch=False).operation
    assert transitions.claim(op.pk, "w1")
    assert transitions.defer(op.pk, "w1", "database is locked", "OperationalError", delay)
    return Operation.objects.get(pk=op.pk)


def test_native_operation_shows_retry_count_next_retry_at_and_last_error(api, db):
    op = deferred(make_bank("alpha"))
    body = api.get(f"/api/banks/alpha/operations/{op.pk}/").json()
    assert (body["status"], body["retry_count"], body["error"]) == ("pending", 1, None)
    assert body["last_error"] == "OperationalError: database is locked"
    assert body["next_retry_at"].startswith(op.next_retry_at.strftime("%Y-%m-%dT%H:%M:%S"))
    listed = api.get("/api/banks/alpha/operations/").json()["operations"][0]
    assert (listed["retry_count"], listed["next_retry_at"]) == (1, body["next_retry_at"])
    # Once it runs again, next_retry_at is no longer shown.
    assert transitions.claim(op.pk, "w2")
    assert api.get(f"/api/banks/alpha/operations/{op.pk}/").json()["next_retry_at"] is None


def test_metrics_count_operations_awaiting_retry_and_retries(client, db):
    from tests.operations.test_metrics import scrape

    deferred(make_bank("alpha"))
    samples = scrape(client)
    assert samples[("hindsight_operations_awaiting_retry", ())] == 1
    assert samples[("hindsight_operation_retries", (("type", "batch_retain"),))] == 1


def test_admin_page_shows_the_coming_retry(admin_client, db):
    op = deferred(make_bank("alpha"))
    page = admin_client.get(f"/admin/operations/operation/{op.pk}/change/").content.decode()
    assert "Retrying" in page and "OperationalError: database is locked" in page


def test_prune_command_refuses_to_guess_when_retention_is_off(db, settings):
    from django.core.management import CommandError, call_command

    settings.HINDSIGHT_RETENTION_DAYS = 0
    op = finished(make_bank("a"), 3650)
    with pytest.raises(CommandError, match="keeps operations forever"):
        call_command("operations", "prune")
    assert Operation.objects.filter(pk=op.pk).exists()


def test_idempotent_replay_of_maintenance_is_a_replay_not_a_deduplication(db):
    import uuid

    bank = make_bank("a")
    key = uuid.uuid4()
    first = submit(bank, OperationType.GRAPH_UPDATE, {}, key, dispatch=False)
    replay = submit(bank, OperationType.GRAPH_UPDATE, {}, key, dispatch=False)
    assert first.created and (replay.operation.pk, replay.created, replay.deduplicated) == (
        key, False, False)
    other_key = submit(bank, OperationType.GRAPH_UPDATE, {}, uuid.uuid4(), dispatch=False)
    assert (other_key.operation.pk, other_key.deduplicated) == (key, True)
