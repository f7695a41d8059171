"""The core behaviour, over HTTP, on both ways to run the product: embedded + SQLite and
RQ + PostgreSQL (real processes, see ``stack.py``). Transitions, cancel, retry and exactly-once
must not depend on the transport or the database."""

from __future__ import annotations

import time

import pytest

from tests.scale.stack import Stack, contents, wait_until

pytestmark = pytest.mark.slow


def cancel(stack: Stack, bank_id: str, op_id: str):
    return stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/cancel/")


def retry(stack: Stack, bank_id: str, op_id: str):
    return stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/retry/")


def test_async_retain_completes_with_every_item_stored_once(any_stack, bank_id):
    op = any_stack.retain_async(bank_id, contents(300))
    assert (op["status"], op["progress"], op["total"]) == ("pending", 0, 300)
    done = any_stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"})
    assert (done["status"], done["progress"], done["attempt"]) == ("completed", 300, 1)
    ids = done["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == any_stack.memory_count(bank_id) == 300


def test_bad_items_are_listed_and_the_rest_completes(any_stack, bank_id):
    items = contents(20)
    items[3]["content"] = " "
    op = any_stack.retain_async(bank_id, items)
    done = any_stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["failed_items_count"] == 1
    assert done["result"]["failed_items"] == [{"index": 3, "error": "content must not be empty"}]
    assert len(done["result"]["memory_ids"]) == 19


def test_invalid_transitions_of_completed_operation_return_409_with_status(any_stack, bank_id):
    op = any_stack.retain_async(bank_id, contents(5))
    any_stack.wait_status(bank_id, op["operation_id"], {"completed"})
    for response in (cancel(any_stack, bank_id, op["operation_id"]),
                     retry(any_stack, bank_id, op["operation_id"])):
        assert response.status_code == 409
        assert response.json()["status"] == "completed"


def test_cancel_stops_commits_and_retry_resumes_exactly_once(any_stack, bank_id):
    # Many small chunks rather than slow ones: on SQLite a chunk holds the write lock for its
    # whole transaction, and a cancel has to find a gap between two chunks.
    op = any_stack.retain_async(bank_id, contents(10_000))
    op_id = op["operation_id"]
    any_stack.wait_progress(bank_id, op_id, at_least=30)
    response = cancel(any_stack, bank_id, op_id)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    at_cancel = any_stack.memory_count(bank_id)
    # The run itself must notice the cancel (its next progress commit is refused) and end
    # without writing: wait for that event, not for a second to pass.
    wait_until(lambda: f"{op_id} stopped at" in any_stack.logs(tail=10**9), timeout=60,
               what="the cancelled run ended")
    assert any_stack.memory_count(bank_id) == at_cancel
    again = cancel(any_stack, bank_id, op_id)  # cancelling a cancelled operation: a no-op
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    cancelled = any_stack.operation(bank_id, op_id)
    assert cancelled["progress"] == at_cancel < 10_000

    assert retry(any_stack, bank_id, op_id).status_code == 202
    done = any_stack.wait_status(bank_id, op_id, {"completed", "failed"})
    assert (done["status"], done["progress"], done["attempt"]) == ("completed", 10_000, 2)
    ids = done["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == any_stack.memory_count(bank_id) == 10_000


def test_cancelled_pending_operations_never_start(any_stack, bank_id):
    ops = [any_stack.retain_async(bank_id, contents(50, fault="slow:0.01"))
           for _ in range(3 * any_stack.runners)]
    response = any_stack.client.post(f"/api/banks/{bank_id}/operations/cancel/",
                                     json={"status": ["pending"]})
    assert response.status_code == 200
    cancelled = set(response.json()["operation_ids"])
    assert cancelled  # three half-second operations per runner: some were still pending
    finals = [any_stack.wait_status(bank_id, op["operation_id"],
                                    {"completed", "cancelled", "failed"}) for op in ops]
    # Every queued job has reached a worker (a cancelled operation's claim is refused there).
    any_stack.wait_jobs_settled([op["operation_id"] for op in ops])
    for final in finals:
        final = any_stack.operation(bank_id, final["operation_id"])
        if final["operation_id"] in cancelled:
            assert (final["status"], final["progress"], final["started_at"]) == (
                "cancelled", 0, None)
        else:
            assert final["status"] in ("completed", "cancelled")


def test_api_process_killed_mid_batch_and_restarted_resumes_exactly_once(any_stack, bank_id):
    """Embedded: the executor dies with the process and the new one resumes at start-up.
    RQ: workers are unaffected by the API process; the operation simply goes on."""
    op = any_stack.retain_async(bank_id, contents(400, fault="slow:0.01"))  # ~4 s of work
    op_id = op["operation_id"]
    any_stack.wait_progress(bank_id, op_id, at_least=50)
    any_stack.kill_server()
    time.sleep(0.5)
    any_stack.start_server()
    done = any_stack.wait_status(bank_id, op_id, {"completed", "failed"}, timeout=120)
    assert (done["status"], done["progress"]) == ("completed", 400)
    ids = done["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == any_stack.memory_count(bank_id) == 400
    if any_stack.kind == "embedded":
        assert done["attempt"] == 2  # resumed by the restarted process, from committed progress
    wait_until(lambda: any_stack.client.get("/health").status_code == 200, timeout=30,
               what="healthy after restart")
