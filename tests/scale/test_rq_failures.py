"""Scale-out under failure, with real parts: PostgreSQL, redis-server, forking RQ workers and
the API on gunicorn, all started by the suite. Workers are SIGKILLed, Redis is stopped, a job
kills its own worker, a worker hangs after a cancel -- and every operation still ends in one
final state with each item stored exactly once."""

from __future__ import annotations

import re
import time

import httpx
import pytest
import redis
from rq.job import Job

from tests.scale.stack import FAST_LIVENESS, Stack, contents, wait_until

pytestmark = pytest.mark.slow

STALE_AFTER = float(FAST_LIVENESS["HINDSIGHT_STALE_AFTER"])
MAX_ATTEMPTS = 4  # tests/scale/conftest.py STACK_ENV


@pytest.fixture
def stack(rq_stack: Stack) -> Stack:
    rq_stack.ensure_workers(2)
    if not rq_stack.redis.ping():
        rq_stack.redis.start()
    return rq_stack


def assert_stored_exactly_once(stack: Stack, bank_id: str, op: dict, expected: int) -> None:
    ids = op["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == expected
    assert stack.memory_count(bank_id) == expected


def test_sigkilled_workers_mid_batch_are_reaped_and_the_batch_resumes_exactly_once(
    stack, bank_id
):
    op = stack.retain_async(bank_id, contents(600, fault="slow:0.02"))  # ~12 s of work
    op_id = op["operation_id"]
    recoveries = []
    for kill in range(3):
        running = stack.wait_progress(bank_id, op_id, at_least=100 * (kill + 1))
        assert running["status"] == "running"
        busy = wait_until(stack.busy_workers, timeout=30, what="a busy worker")
        killed_at = time.monotonic()
        stack.kill_worker(busy[0])
        stack.start_worker()  # the replacement a supervisor would start
        attempt = running["attempt"]
        wait_until(
            lambda a=attempt: (o := stack.operation(bank_id, op_id))["status"] == "running"
            and o["attempt"] > a,
            timeout=STALE_AFTER + 90, what="the operation running again on another worker",
        )
        recoveries.append(time.monotonic() - killed_at)
    done = stack.wait_status(bank_id, op_id, {"completed", "failed"}, timeout=180)
    assert done["status"] == "completed", done
    assert (done["progress"], done["total"], done["attempt"]) == (600, 600, 4)
    assert_stored_exactly_once(stack, bank_id, done, 600)
    # Reaped within STALE_AFTER (+ sweep interval, dispatch and fork, with room for a stall).
    assert max(recoveries) < STALE_AFTER + 30, recoveries


def test_poison_pill_that_kills_its_worker_every_time_fails_after_max_attempts(stack, bank_id):
    items = contents(30)
    items[15]["metadata"] = {"fault": "kill"}
    op = stack.retain_async(bank_id, items)
    failed = stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"},
                               timeout=MAX_ATTEMPTS * STALE_AFTER + 120)
    assert failed["status"] == "failed"
    assert failed["error"] == f"worker lost after {MAX_ATTEMPTS} attempts"
    # The chunk before the pill committed once; the pill's chunk never did.
    assert failed["progress"] == 10
    assert stack.memory_count(bank_id) == 10
    # Only the work-horses died; the workers themselves go on serving other operations.
    assert all(worker.poll() is None for worker in stack.workers)
    ok = stack.retain_async(bank_id, contents(5, prefix="after"))
    assert stack.wait_status(bank_id, ok["operation_id"], {"completed"})["progress"] == 5


def test_submit_while_redis_is_down_is_accepted_and_runs_once_redis_is_back(stack, bank_id):
    stack.redis.stop()
    health = stack.client.get("/health")
    assert health.status_code == 503
    assert health.json()["executor"]["redis"] == "unavailable"
    assert health.json()["database"] == "connected"

    op = stack.retain_async(bank_id, contents(50))
    assert op["status"] == "pending"
    # Reads keep working while the transport is down.
    assert stack.operation(bank_id, op["operation_id"])["status"] == "pending"
    listing = stack.client.get(f"/api/banks/{bank_id}/operations/")
    assert listing.status_code == 200 and listing.json()["total"] == 1

    time.sleep(2)  # several sweeps fail to dispatch meanwhile; nothing is lost
    stack.redis.start()
    done = stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"}, timeout=90)
    assert done["status"] == "completed" and done["attempt"] == 1
    assert_stored_exactly_once(stack, bank_id, done, 50)
    assert stack.client.get("/health").status_code == 200


def test_four_workers_run_fifty_operations_each_exactly_once(stack, bank_id):
    stack.ensure_workers(4)
    ops = [stack.retain_async(bank_id, contents(20, prefix=f"op{i}")) for i in range(50)]
    finals = [
        stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"}, timeout=180)
        for op in ops
    ]
    assert {op["status"] for op in finals} == {"completed"}
    # One successful claim each: a double claim would show as attempt 2 (or lost work).
    assert {op["attempt"] for op in finals} == {1}
    for op in finals:
        ids = op["result"]["memory_ids"]
        assert len(ids) == len(set(ids)) == 20
    assert stack.memory_count(bank_id) == 50 * 20


def test_cancel_of_operation_running_on_a_worker_commits_nothing_after_the_response(
    stack, bank_id
):
    op = stack.retain_async(bank_id, contents(2000, fault="slow:0.005"))  # ~10 s of work
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=50)
    response = stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    at_cancel = stack.memory_count(bank_id)
    for _ in range(15):  # ~3 s: the worker reaches chunk boundaries and stops
        time.sleep(0.2)
        assert stack.memory_count(bank_id) == at_cancel
    final = stack.operation(bank_id, op_id)
    assert final["status"] == "cancelled"
    assert final["progress"] == at_cancel == len(final["result"]["memory_ids"]) < 2000


def test_worker_that_does_not_acknowledge_a_cancel_is_stopped_with_rqs_stop_command(
    stack, bank_id
):
    items = contents(20)
    items[12]["metadata"] = {"fault": "hang"}  # the second chunk never returns by itself
    op = stack.retain_async(bank_id, items)
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=10)
    busy = wait_until(stack.busy_workers, timeout=30, what="a busy worker")
    response = stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"

    connection = redis.Redis.from_url(stack.redis.url)
    try:
        wait_until(lambda: Job.fetch(op_id, connection=connection).get_status() == "stopped",
                   timeout=30, what="RQ job stopped")
    except AssertionError as exc:
        # Seen once on a loaded machine: say what the job and every process were doing.
        job = Job.fetch(op_id, connection=connection)
        raise AssertionError(f"{exc}; job status {job.get_status()!r} on {job.worker_name!r}"
                             f"\n{stack.logs(tail=6000)}") from None
    wait_until(lambda: not stack.busy_workers(), timeout=30, what="work-horse gone")
    assert busy[0].poll() is None  # the worker itself lives on
    final = stack.operation(bank_id, op_id)
    assert (final["status"], final["progress"]) == ("cancelled", 10)
    assert stack.memory_count(bank_id) == 10


def test_chunk_slower_than_stale_after_is_not_reaped_while_its_worker_lives(stack, bank_id):
    # One 15 s chunk, longer than the stack's 10 s stale-after.
    op = stack.retain_async(bank_id, contents(10, fault="slow:1.5"))
    done = stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"}, timeout=120)
    assert done["status"] == "completed"
    assert done["attempt"] == 1  # the heartbeat thread kept it alive: never taken over
    assert_stored_exactly_once(stack, bank_id, done, 10)


def test_django_rq_dashboard_is_served_to_staff_only(stack):
    anonymous = stack.client.get("/django-rq/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous.headers["location"]

    stack.manage("createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com",
                 DJANGO_SUPERUSER_PASSWORD="correct horse battery")
    with httpx.Client(base_url=str(stack.client.base_url), timeout=30) as browser:
        login_page = browser.get("/admin/login/", params={"next": "/django-rq/"})
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)[1]
        dashboard = browser.post(
            "/admin/login/?next=/django-rq/",
            data={"csrfmiddlewaretoken": token, "username": "ops",
                  "password": "correct horse battery", "next": "/django-rq/"},
            follow_redirects=True,
        )
    assert dashboard.status_code == 200
    assert str(dashboard.url).endswith("/django-rq/")
    assert "default" in dashboard.text and "Workers" in dashboard.text


def test_dead_worker_is_noticed_with_no_rq_worker_alive_and_resumed_by_a_new_one(stack, bank_id):
    """RQ itself needs a live worker's maintenance to notice a dead one; our reaper needs only
    the database (here: the API process's sweeper)."""
    op = stack.retain_async(bank_id, contents(300, fault="slow:0.02"))  # ~6 s of work
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=40)
    for worker in list(stack.workers):  # every worker, busy or not
        stack.kill_worker(worker)
    requeued = stack.wait_status(bank_id, op_id, {"pending"}, timeout=30)
    assert requeued["progress"] >= 40  # committed progress is kept
    stack.start_worker()
    done = stack.wait_status(bank_id, op_id, {"completed", "failed"}, timeout=90)
    assert (done["status"], done["attempt"]) == ("completed", 2)
    assert_stored_exactly_once(stack, bank_id, done, 300)
