"""Scheduling on both ways to run, with real processes: one bank's backlog does not hold back
another bank's operation (two executor threads / two forking RQ workers), and transient faults
-- an injected ``TransientError``, a PostgreSQL backend terminated mid-chunk -- are retried
automatically, each item stored exactly once."""

from __future__ import annotations

from datetime import datetime

import pytest
import redis

from tests.scale.stack import Stack, contents, wait_until

pytestmark = pytest.mark.slow


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_one_banks_backlog_does_not_hold_back_another_bank(any_stack: Stack, bank_id):
    """Every runner busy with one bank's backlog, another bank's operation submitted: the first
    runner that frees up runs it, before any more of the backlog. Each backlog operation waits
    on its own gate, so the test frees exactly one runner, whatever the machine's speed."""
    importer, small = f"{bank_id}-importer", f"{bank_id}-small"
    runners = any_stack.runners
    backlog = [
        any_stack.retain_async(importer, [{"content": f"gated {n}",
                                           "metadata": {"fault": f"gate:{bank_id}-{n}"}},
                                          *contents(5, prefix=f"backlog {n}")])["operation_id"]
        for n in range(3 * runners)
    ]
    wait_until(lambda: len(any_stack.running(importer)) == runners, timeout=60,
               what="every runner busy with the backlog")
    busy = any_stack.running(importer)
    try:
        op = any_stack.retain_async(small, contents(10))
        any_stack.open_gate(f"{bank_id}-{backlog.index(busy[0])}")  # one runner frees up
        done = any_stack.wait_status(small, op["operation_id"], {"completed", "failed"},
                                     timeout=60)
        assert done["status"] == "completed"
        # The freed runner took the other bank's operation: none of the waiting backlog
        # started before it was done (after it, that runner goes on with the backlog).
        for op_id in backlog:
            if op_id not in busy:
                row = any_stack.operation(importer, op_id)
                assert row["status"] == "pending" or (
                    moment(row["started_at"]) >= moment(done["completed_at"])), (row, done)
    finally:
        for n in range(len(backlog)):
            any_stack.open_gate(f"{bank_id}-{n}")
    for op_id in backlog:
        finished = any_stack.wait_status(importer, op_id, {"completed", "failed"}, timeout=120)
        assert finished["status"] == "completed"


def test_transient_fault_is_retried_and_every_item_stored_once(any_stack: Stack, bank_id):
    items = contents(100)
    items[45]["metadata"] = {"fault": "transient-once"}
    op = any_stack.retain_async(bank_id, items)
    done = any_stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"})
    assert (done["status"], done["retry_count"], done["progress"]) == ("completed", 1, 100)
    assert done["last_error"] == "TransientError: injected transient fault"
    assert done["error"] is None
    ids = done["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == any_stack.memory_count(bank_id) == 100


def test_postgres_backend_terminated_mid_chunk_is_retried_exactly_once(any_stack: Stack,
                                                                      bank_id):
    if any_stack.kind != "rq":
        pytest.skip("PostgreSQL runs in the scale-out stack")
    rq_stack = any_stack
    items = contents(100)
    items[45]["metadata"] = {"fault": "pgterm-once"}
    op = rq_stack.retain_async(bank_id, items)
    done = rq_stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"})
    assert (done["status"], done["retry_count"], done["progress"]) == ("completed", 1, 100), done
    assert done["last_error"].startswith("OperationalError: ")
    ids = done["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == rq_stack.memory_count(bank_id) == 100


def test_a_backlog_waits_in_the_database_pending_and_cancellable(any_stack: Stack, bank_id):
    gated = [{"content": "gated", "metadata": {"fault": f"gate:{bank_id}"}}, *contents(39)]
    backlog = [any_stack.retain_async(bank_id, gated)["operation_id"]
               for _ in range(any_stack.runners + 4)]
    try:
        wait_until(lambda: len(any_stack.running(bank_id)) == any_stack.runners, timeout=60,
                   what="every runner busy")
        if any_stack.kind == "rq":
            # Only what the workers can start is in Redis; the rest waits in the database.
            queue = redis.Redis.from_url(any_stack.redis.url)
            assert queue.llen("rq:queue:default") <= 2
        waiting = [op_id for op_id in backlog if op_id not in any_stack.running(bank_id)]
        assert len(waiting) == 4
        assert {any_stack.operation(bank_id, op_id)["status"] for op_id in waiting} == {"pending"}
        last = waiting[-1]
        response = any_stack.client.post(f"/api/banks/{bank_id}/operations/{last}/cancel/")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
    finally:
        any_stack.open_gate(bank_id)
    for op_id in backlog:
        if op_id != last:
            done = any_stack.wait_status(bank_id, op_id, {"completed", "failed"}, timeout=120)
            assert done["status"] == "completed"
    any_stack.wait_jobs_settled(backlog)
    cancelled = any_stack.operation(bank_id, last)
    assert (cancelled["status"], cancelled["progress"], cancelled["started_at"]) == (
        "cancelled", 0, None)
    assert any_stack.memory_count(bank_id) == (len(backlog) - 1) * 40
