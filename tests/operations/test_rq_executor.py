"""The RQ transport against a real redis-server: one RQ job per operation with the operation's
id, no duplicate queue entries on re-dispatch, deliberate timeouts, and a quick, clear failure
(never a hang) when Redis is down -- the row then waits for the outbox sweep."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from rq import Worker
from rq.job import Job

from operations import transitions
from operations.models import Operation
from operations.rq_executor import RQExecutor, perform_operation
from operations.states import OperationStatus
from operations.workers import local_prefix, recover_dead_owners
from tests.factories import submit_retain
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def executor(settings, redis_server, redis_url) -> RQExecutor:
    redis_server.flush()
    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    return RQExecutor()


def test_dispatch_enqueues_one_job_named_after_the_operation(executor, bank, settings):
    op = submit_retain(bank, 3)
    executor.dispatch(str(op.pk))
    queue = executor.queue()
    assert queue.job_ids == [str(op.pk)]
    job = Job.fetch(str(op.pk), connection=executor.connection())
    assert job.func is perform_operation and job.args == (str(op.pk),)
    assert job.timeout == settings.HINDSIGHT_JOB_TIMEOUT > 180  # never RQ's 180 s default
    assert job.result_ttl == settings.HINDSIGHT_RQ_RESULT_TTL


def test_redispatch_of_a_queued_operation_adds_no_duplicate_entry(executor, bank):
    op = submit_retain(bank, 3)
    for _ in range(3):
        executor.dispatch(str(op.pk))
    assert executor.queue().job_ids == [str(op.pk)]


def test_concurrent_redispatch_after_redis_lost_the_job_leaves_one_queue_entry(executor, bank):
    """Every process's sweeper re-dispatches the same pending rows once Redis is back empty:
    the check and the enqueue are one Redis transaction, so racing dispatchers add one entry."""
    ops = [str(submit_retain(bank, 1).pk) for _ in range(15)]
    executor.queue().empty()
    dispatchers = [RQExecutor() for _ in range(6)]  # one client (connection) per process
    barrier = threading.Barrier(len(dispatchers))

    def dispatch_all(dispatcher: RQExecutor) -> None:
        barrier.wait()
        for pk in ops:
            dispatcher.dispatch(pk)

    threads = [threading.Thread(target=dispatch_all, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    job_ids = executor.queue().get_job_ids()
    assert sorted(job_ids) == sorted(ops)  # each once, none twice


def test_health_reports_queue_and_workers_when_redis_answers(executor):
    health = executor.health()
    assert health["status"] == "ok" and health["redis"] == "connected"
    assert health["queued"] == 0 and health["workers"] == 0


def test_dead_redis_fails_dispatch_and_health_quickly(settings, bank):
    dead = RedisServer()
    dead.start()
    dead.stop()
    try:
        settings.RQ_QUEUES = {"default": {"URL": dead.url}}
        executor = RQExecutor()
        op = submit_retain(bank, 3)
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            executor.dispatch(str(op.pk))
        health = executor.health()
        assert time.monotonic() - started < 2 * settings.HINDSIGHT_REDIS_TIMEOUT + 1
        assert health["status"] == "error" and health["redis"] == "unavailable"
    finally:
        dead.close()


def test_operations_of_dead_local_work_horses_are_requeued_at_once(bank):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead, alive = submit_retain(bank, 3), submit_retain(bank, 3)
    elsewhere = submit_retain(bank, 3)
    assert transitions.claim(dead.pk, f"{local_prefix('rq')}{gone.pid}:1")
    assert transitions.claim(alive.pk, f"{local_prefix('rq')}{os.getpid()}:1")
    assert transitions.claim(elsewhere.pk, f"rq:another-machine:1:{gone.pid}:1")

    assert recover_dead_owners("rq", max_attempts=3) == [str(dead.pk)]

    statuses = dict(Operation.objects.values_list("pk", "status"))
    assert statuses[dead.pk] == OperationStatus.PENDING
    # A live horse and another machine's horse are left to their heartbeats.
    assert statuses[alive.pk] == statuses[elsewhere.pk] == OperationStatus.RUNNING
    assert Operation.objects.get(pk=dead.pk).lost_count == 1


def test_metrics_in_rq_mode_report_the_queue_and_the_registered_workers(executor, bank, client,
                                                                        settings, monkeypatch):
    settings.HINDSIGHT_EXECUTOR = "rq"
    monkeypatch.setattr("operations.executor._executor", executor)  # what get_executor returns
    for op in (submit_retain(bank, 3), submit_retain(bank, 4)):
        executor.dispatch(str(op.pk))
    worker = Worker([executor.queue()], connection=executor.connection(), name="metrics-w1")
    worker.register_birth()
    try:
        response = client.get("/metrics")
    finally:
        worker.register_death()
    assert response.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.content.decode())
               for s in family.samples}
    assert samples[("hindsight_rq_queued_jobs", ())] == 2
    assert samples[("hindsight_rq_workers", ())] == 1
    assert samples[("hindsight_executor_up", (("executor", "rq"),))] == 1
    assert ("hindsight_executor_in_flight", ()) not in samples  # the embedded pool's gauge
