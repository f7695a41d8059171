"""Redis outages with real parts: redis-server SIGKILLed mid-run and started again EMPTY on the
same port (what a restart without persistence, a failover to a fresh replica or an eviction
does), under the API on gunicorn, PostgreSQL and two forking RQ workers. The same worker
processes ride it out -- no supervisor restarts anything -- and every operation ends exactly
once."""

from __future__ import annotations

import re
import time

import pytest

from tests.scale.stack import Stack, contents, wait_until

pytestmark = pytest.mark.slow

STALE_AFTER = 2.0  # tests/scale/stack.py FAST_LIVENESS
LOST = re.compile(r"Worker \S+: lost Redis")
BACK = re.compile(r"Worker \S+: Redis is back after")


@pytest.fixture
def stack(rq_stack: Stack) -> Stack:
    rq_stack.ensure_workers(2)
    if not rq_stack.redis.ping():
        rq_stack.redis.start()
    wait_until(lambda: workers(rq_stack)["alive"] == 2 and
               workers(rq_stack)["waiting_for_redis"] == 0, timeout=60,
               what="both workers up and reaching Redis")
    return rq_stack


def workers(stack: Stack) -> dict:
    """What /health says about the workers (from the database, so also while Redis is down)."""
    return stack.client.get("/health").json()["workers"]


def reconnects(stack: Stack) -> float:
    text = stack.client.get("/metrics").text
    return float(re.search(r"^hindsight_redis_reconnects_total (\S+)$", text, re.M)[1])


def finish_all(stack: Stack, bank_id: str, ops: list[dict], timeout: float = 180) -> list[dict]:
    return [stack.wait_status(bank_id, op["operation_id"], {"completed", "failed", "cancelled"},
                              timeout=timeout) for op in ops]


def assert_books_balance(stack: Stack, bank_id: str, finals: list[dict], items: int) -> None:
    assert {op["status"] for op in finals} == {"completed"}, finals
    stored = [memory_id for op in finals for memory_id in op["result"]["memory_ids"]]
    assert len(stored) == len(set(stored)) == items  # every item stored, none twice
    assert stack.memory_count(bank_id) == items


def test_same_workers_ride_out_two_redis_crashes_in_a_minute_and_finish_every_operation(
    stack, bank_id
):
    pids = [worker.pid for worker in stack.workers]
    before = reconnects(stack)
    ops: list[dict] = []
    for outage in (1, 2):
        # Work in every state when Redis dies: running on a horse, queued in Redis (lost with
        # it), and pending in the database only.
        ops += [stack.retain_async(bank_id, contents(20, prefix=f"o{outage}-{i}",
                                                     fault="slow:0.03")) for i in range(6)]
        wait_until(stack.busy_workers, timeout=60, what="a worker running an operation")
        stack.redis.kill()

        # Both workers notice, say so in the database, and /health explains the 503.
        wait_until(lambda: workers(stack)["waiting_for_redis"] == 2, timeout=90,
                   what="both workers waiting for Redis")
        health = stack.client.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["reason"].startswith("redis unavailable: ")
        assert body["executor"]["redis"] == "unavailable" and body["database"] == "connected"
        assert body["workers"]["alive"] == 2 and body["workers"]["waiting_since"]
        # Submits still succeed: the database keeps them until Redis is back.
        ops.append(stack.retain_async(bank_id, contents(5, prefix=f"during{outage}")))

        stack.redis.start()  # same port, empty: every queued job and registry entry is gone
        wait_until(lambda: workers(stack)["waiting_for_redis"] == 0, timeout=90,
                   what="both workers back on Redis")
        assert stack.client.get("/health").status_code == 200

        finals = finish_all(stack, bank_id, ops)
        assert_books_balance(stack, bank_id, finals, items=sum(
            op["total"] for op in finals))
        # Run once each: a second claim, or a reaped run, would show as attempt 2.
        assert {op["attempt"] for op in finals} == {1}, finals

    # The same processes did it all: nobody restarted a worker.
    assert [worker.pid for worker in stack.workers] == pids
    assert all(worker.poll() is None for worker in stack.workers)
    # A worker whose backoff was at its longest may still be asleep when the operations are
    # done (others ran them): wait for its reconnection line, then count.
    wait_until(lambda: all(len(BACK.findall(stack.worker_log(w))) >= 2 for w in stack.workers),
               timeout=90, what="every worker reconnected after the second outage")
    for worker in stack.workers:
        log = stack.worker_log(worker)
        assert len(LOST.findall(log)) == 2, log[-3000:]  # one line per outage...
        assert len(BACK.findall(log)) == 2, log[-3000:]  # ...and one when it is back
        assert "could not connect to Redis instance" not in log  # not RQ's line per retry
    # Recorded in the database just after the log line.
    wait_until(lambda: reconnects(stack) == before + 4, timeout=30,
               what="two workers x two outages recorded")  # not more: no spurious reconnect
    assert reconnects(stack) == before + 4
    # RQ's registry knows both workers again (the dashboard, executor health).
    assert stack.client.get("/health").json()["executor"]["workers"] == 2


def test_operation_running_through_an_outage_longer_than_stale_after_is_not_reaped(
    stack, bank_id
):
    # Chunks of 10 items taking 2.5 s each (> STALE_AFTER): only the heartbeat thread, which
    # writes to the database, keeps the operation from being reaped.
    pids = [worker.pid for worker in stack.workers]
    op = stack.retain_async(bank_id, contents(50, fault="slow:0.25"))
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=10)
    stack.redis.kill()
    down_at = time.monotonic()

    # It finishes and commits while Redis is still down, on its first attempt.
    done = stack.wait_status(bank_id, op_id, {"completed", "failed", "pending"}, timeout=120)
    assert time.monotonic() - down_at > 3 * STALE_AFTER
    assert (done["status"], done["attempt"]) == ("completed", 1), done
    assert_books_balance(stack, bank_id, [done], items=50)
    assert all(worker.poll() is None for worker in stack.workers)

    stack.redis.start()
    wait_until(lambda: workers(stack)["waiting_for_redis"] == 0, timeout=90,
               what="both workers back on Redis")
    after = stack.retain_async(bank_id, contents(5, prefix="after"))
    final = stack.wait_status(bank_id, after["operation_id"], {"completed", "failed"})
    assert (final["status"], final["attempt"]) == ("completed", 1)
    # The worker that ran it through the outage is still serving, like the idle one.
    assert [worker.pid for worker in stack.workers] == pids
    assert all(worker.poll() is None for worker in stack.workers)


def test_worker_started_while_redis_is_down_waits_for_it_instead_of_exiting(stack, bank_id):
    stack.redis.kill()
    late = stack.start_worker()
    wait_until(lambda: workers(stack)["alive"] == 3 and workers(stack)["waiting_for_redis"] == 3,
               timeout=90, what="the new worker waiting for Redis")
    assert late.poll() is None
    op = stack.retain_async(bank_id, contents(5))
    stack.redis.start()
    done = stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"}, timeout=120)
    assert done["status"] == "completed"
    assert late.poll() is None
    # Another worker may have run the operation while this one's backoff still sleeps.
    wait_until(lambda: BACK.search(stack.worker_log(late)), timeout=90,
               what="the late worker reconnected")
    assert len(BACK.findall(stack.worker_log(late))) == 1
