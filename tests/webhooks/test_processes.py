"""Webhooks across real processes: the API on gunicorn (embedded: SQLite + executor threads;
scale-out: PostgreSQL + Redis + RQ workers), SIGKILLed mid-delivery and restarted, and several
delivery loops (RQ workers, ``manage.py webhooks deliver`` processes) racing for the same rows.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.scale.stack import ROOT, Stack, contents, wait_until
from tests.servers import RedisServer, stop_process
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow
SECRET = "whsec_process-secret"
WEBHOOK_ENV = {
    "HINDSIGHT_WEBHOOK_ALLOW_PRIVATE": "true",
    "HINDSIGHT_WEBHOOK_TIMEOUT": "3",  # a hanging attempt's lease: 3 s + 5 s margin
    "HINDSIGHT_WEBHOOK_RETRY_SCHEDULE": "0.5,0.5,0.5,0.5,0.5",
    "HINDSIGHT_WEBHOOK_POLL_INTERVAL": "0.1",
}


def start(kind: str, cluster=None) -> tuple[Stack, RedisServer | None]:
    redis = database_url = None
    if kind == "rq":
        redis = RedisServer()
        redis.start()
        database_url = cluster.create_database(f"hooks_{uuid.uuid4().hex[:10]}")
    stack = Stack(kind, redis=redis, database_url=database_url, env=WEBHOOK_ENV)
    try:
        stack.start(workers=2)
    except BaseException:
        print(stack.logs())
        stack.close()
        if redis is not None:
            redis.close()
        raise
    return stack, redis


@pytest.fixture(scope="module", params=["embedded", "rq"])
def stack(request) -> Iterator[Stack]:
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "rq" else None
    stack, redis = start(request.param, cluster)
    yield stack
    stack.close()
    if redis is not None:
        redis.close()


def subscribe(stack: Stack, bank_id: str, url: str, **extra) -> dict:
    stack.client.post("/api/banks/", json={"bank_id": bank_id})
    response = stack.client.post(f"/api/banks/{bank_id}/webhooks/",
                                 json={"url": url, "secret": SECRET, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(stack: Stack, bank_id: str, hook: dict) -> list[dict]:
    rows, cursor = [], None
    while True:
        response = stack.client.get(f"/api/banks/{bank_id}/webhooks/{hook['webhook_id']}"
                                    f"/deliveries/", params={"limit": 100, "cursor": cursor}
                                    if cursor else {"limit": 100})
        assert response.status_code == 200, response.text
        rows += response.json()["deliveries"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return rows


def test_delivery_in_flight_when_the_process_is_sigkilled_is_sent_again_after_restart(stack):
    bank_id = f"kill-{uuid.uuid4().hex[:6]}"
    with Receiver(["hang", 200]) as receiver:
        hook = subscribe(stack, bank_id, receiver.url, events=["operation.completed"])
        op = stack.retain_async(bank_id, contents(3))
        stack.wait_status(bank_id, op["operation_id"], {"completed"})
        receiver.wait(lambda r: len(r) >= 1)  # the first attempt hangs in some process
        if stack.kind == "embedded":
            stack.kill_server()
            stack.start_server()
        else:
            for worker in list(stack.workers):
                stack.kill_worker(worker)
            stack.start_worker()
        got = receiver.wait(lambda r: any(x.answered == 200 for x in r), timeout=90)
        [row] = wait_until(
            lambda: [d for d in deliveries(stack, bank_id, hook) if d["status"] == "delivered"],
            timeout=60, what="delivery recorded as delivered")
    # At-least-once: the attempt cut off by the kill is re-sent with the same event.
    assert {x.json["event_id"] for x in got} == {row["event_id"]}
    assert all(x.signature_valid(SECRET) for x in got)
    assert got[-1].json["operation_id"] == op["operation_id"]


def test_concurrent_delivery_loops_never_send_one_attempt_twice(stack):
    bank_id = f"race-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "manage.py", "webhooks", "deliver"]
    extra_loops = [subprocess.Popen(command, cwd=ROOT, env=stack.env, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(2)]
    try:
        with Receiver([200], delay=0.02) as receiver:
            hooks = [subscribe(stack, bank_id, receiver.url) for _ in range(3)]
            ops = [stack.retain_async(bank_id, contents(1)) for _ in range(40)]
            expected = len(ops) * len(hooks)
            got = receiver.wait(lambda r: len(r) >= expected, timeout=120)
            for op in ops:
                stack.wait_status(bank_id, op["operation_id"], {"completed"})
            rows = [row for hook in hooks for row in deliveries(stack, bank_id, hook)]
    finally:
        for process in extra_loops:
            stop_process(process)
    sent = collections.Counter(x.headers["x-hindsight-delivery-id"] for x in got)
    assert [d for d, n in sent.items() if n > 1] == []
    assert len(sent) == expected == len(rows)
    assert {row["status"] for row in rows} == {"delivered"}
    assert {row["attempts"] for row in rows} == {1}
