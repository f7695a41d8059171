"""The embedded default served by several gunicorn processes (``make run`` uses one per core):
every process runs an executor, the claim compare-and-set keeps each operation to one run, a
process with all threads busy hands work to a free one through the doorbell, a killed process's
operations are taken over by its siblings, and SQLite writers in different processes queue
without "database is locked"."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.scale.conftest import STACK_ENV
from tests.scale.stack import Stack, children, contents, wait_until

pytestmark = pytest.mark.slow

PROCESSES = 3


@pytest.fixture(scope="module")
def stack():
    # One executor thread per process: any burst of submissions overflows the receiving
    # process, so the doorbell has to spread the work.
    stack = Stack("embedded", env={**STACK_ENV, "HINDSIGHT_WORKERS": "1"},
                  processes=PROCESSES)
    try:
        stack.start(workers=0)
        yield stack
    finally:
        stack.close()


def owners(stack: Stack, bank_id: str) -> list[tuple[str, int, str]]:
    """(operation id, attempt, owner pid) of every operation of the bank, from the database."""
    with sqlite3.connect(stack.dir / "hindsight.sqlite3") as db:
        rows = db.execute(
            "SELECT o.id, o.attempt, o.worker_id FROM operations_operation o "
            "JOIN banks_bank b ON b.id = o.bank_id WHERE b.bank_id = ?", (bank_id,)).fetchall()
    return [(op_id, attempt, owner.split(":")[3]) for op_id, attempt, owner in rows]


def test_200_operations_submitted_to_several_processes_each_run_exactly_once(stack):
    bank_id = "many-ops"

    def submit(i: int) -> str:
        response = stack.client.post(f"/api/banks/{bank_id}/memories/",
                                     json={"async": True, "contents": contents(5, f"op{i}")})
        assert response.status_code == 202, response.text
        return response.json()["operation_id"]

    stack.client.post("/api/banks/", json={"bank_id": bank_id})
    with ThreadPoolExecutor(8) as pool:
        op_ids = list(pool.map(submit, range(200)))
    assert len(set(op_ids)) == 200

    def all_completed() -> bool:
        page = stack.client.get(f"/api/banks/{bank_id}/operations/",
                                params={"status": "completed", "limit": 1}).json()
        return page["total"] == 200

    wait_until(all_completed, timeout=300, what="200 operations completed")
    rows = owners(stack, bank_id)
    assert len(rows) == 200
    assert Counter(attempt for _, attempt, _ in rows) == {1: 200}  # claimed once each
    assert stack.memory_count(bank_id) == 1000  # 5 items each, none twice
    assert len({pid for _, _, pid in rows}) >= 2, "the work stayed in one process"
    logs = stack.logs(tail=200_000)
    assert "database is locked" not in logs
    assert "Traceback" not in logs


def test_killed_server_process_operation_is_taken_over_by_a_sibling(stack):
    bank_id = "killed-worker"
    op = stack.retain_async(bank_id, contents(400, fault="slow:0.01"))  # ~4 s of work
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=50)
    (_, _, pid), = owners(stack, bank_id)
    assert int(pid) in children(stack.server.pid)
    os.kill(int(pid), signal.SIGKILL)  # one worker process dies; the master starts another
    done = stack.wait_status(bank_id, op_id, {"completed", "failed"}, timeout=120)
    assert (done["status"], done["progress"], done["attempt"]) == ("completed", 400, 2)
    ids = done["result"]["memory_ids"]
    assert len(ids) == len(set(ids)) == stack.memory_count(bank_id) == 400
    assert "database is locked" not in stack.logs(tail=200_000)


def test_cancel_reaches_an_operation_running_in_another_process(stack):
    bank_id = "cancel-across"
    op = stack.retain_async(bank_id, contents(2000, fault="slow:0.01"))
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=20)
    # Each request may land on any process; the cancel is the same compare-and-set anywhere.
    response = stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    at_cancel = stack.memory_count(bank_id)
    # Give a late commit every chance to show: another operation runs to completion first.
    marker = stack.retain_async("cancel-marker", contents(20))
    stack.wait_status("cancel-marker", marker["operation_id"], {"completed"}, timeout=120)
    final = stack.operation(bank_id, op_id)
    assert final["status"] == "cancelled"
    assert stack.memory_count(bank_id) == at_cancel == final["progress"]
