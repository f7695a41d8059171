"""A PostgreSQL restart under load with real parts (the API on gunicorn, two forking RQ workers,
redis-server, a PostgreSQL cluster of this module's own, stopped with ``pg_ctl -m fast`` so
every connection is cut): clients submitting meanwhile get 503 + ``Retry-After`` on both
surfaces, never a 500; the API reconnects by itself; every accepted operation completes, each
item stored exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.scale.conftest import start_stack
from tests.scale.stack import Stack, contents, wait_until
from tests.servers import PostgresCluster

pytestmark = pytest.mark.slow

DETAIL = {"detail": "database unavailable, retry"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    # Its own cluster: stopping the session's one would cut every other stack's database.
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def stack(cluster: PostgresCluster) -> Iterator[Stack]:
    stack, redis = start_stack("rq", cluster)
    yield stack
    stack.close()
    redis.close()


def listed_operation_ids(stack: Stack, bank_id: str) -> list[str]:
    ids: list[str] = []
    while True:
        page = stack.client.get(f"/api/banks/{bank_id}/operations/",
                                params={"limit": 100, "offset": len(ids)}).json()
        ids += [op["operation_id"] for op in page["operations"]]
        if len(ids) >= page["total"] or not page["operations"]:
            return ids


class Submitter(threading.Thread):
    """A client retaining small batches into its own bank as fast as the API answers,
    recording every answer."""

    def __init__(self, base_url: str, compat: bool) -> None:
        super().__init__(daemon=True)
        self.bank_id = f"bank-{uuid.uuid4().hex[:8]}"
        self.compat = compat
        self.client = httpx.Client(base_url=base_url, timeout=60)
        self.answers: list[httpx.Response] = []
        self.accepted: list[str] = []
        self.stop = threading.Event()

    def submit(self) -> httpx.Response:
        if self.compat:
            return self.client.post(f"/v1/default/banks/{self.bank_id}/memories", json={
                "items": [{"content": f"c{len(self.answers)}-{i}"} for i in range(5)],
                "async": True})
        return self.client.post(f"/api/banks/{self.bank_id}/memories/", json={
            "contents": [{"content": f"n{len(self.answers)}-{i}"} for i in range(5)],
            "async": True})

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                response = self.submit()
            except httpx.TransportError:  # never expected: the server itself stays up
                raise
            self.answers.append(response)
            if response.status_code in (200, 202):
                self.accepted.append(response.json()["operation_id"])
            self.stop.wait(0.02)

    def statuses(self) -> set[int]:
        return {response.status_code for response in self.answers}


def test_postgres_restart_mid_run_gives_503_never_500_and_every_operation_completes_once(
    stack, cluster
):
    base = str(stack.client.base_url)
    long_bank = f"bank-{uuid.uuid4().hex[:8]}"
    # Running on a worker when the database goes: cut mid-chunk, re-run from its last commit.
    long_op = stack.retain_async(long_bank, contents(200, prefix="long", fault="slow:0.02"))
    submitters = [Submitter(base, compat=False), Submitter(base, compat=True)]
    for submitter in submitters:
        submitter.start()
    wait_until(lambda: all(len(s.accepted) >= 5 for s in submitters), timeout=90,
               what="submits accepted before the outage")
    stack.wait_progress(long_bank, long_op["operation_id"], at_least=20)

    cluster.stop_fast()
    try:
        # Both surfaces say so, the same way, while the database is gone...
        for submitter in submitters:
            response = submitter.submit()
            assert response.status_code == 503, response.text
            assert response.json() == DETAIL
            assert int(response.headers["Retry-After"]) > 0
        health = stack.client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert health.json()["reason"].startswith("database unavailable: ")
        # ...and so do the clients that kept submitting meanwhile.
        wait_until(lambda: all(503 in s.statuses() for s in submitters), timeout=60,
                   what="503s seen by the submitting clients")
    finally:
        cluster.start()

    # The API reconnects by itself: submits are accepted again.
    marks = [len(s.accepted) for s in submitters]
    wait_until(lambda: all(len(s.accepted) > m for s, m in zip(submitters, marks, strict=True)),
               timeout=90, what="submits accepted after the restart")
    for submitter in submitters:
        submitter.stop.set()
        submitter.join(timeout=60)

    for submitter in submitters:
        assert submitter.statuses() <= {200, 202, 503}, submitter.statuses()  # never a 500
        for response in submitter.answers:
            if response.status_code == 503:
                assert response.json() == DETAIL and "Retry-After" in response.headers

    # Every accepted operation completes, and the books balance: each item stored once.
    for bank_id, accepted in [(long_bank, [long_op["operation_id"]])] + [
        (s.bank_id, s.accepted) for s in submitters
    ]:
        finals = [stack.wait_status(bank_id, op_id, {"completed", "failed", "cancelled"},
                                    timeout=180) for op_id in accepted]
        assert {op["status"] for op in finals} == {"completed"}, finals
        # A 503 committed nothing: the bank holds exactly the accepted operations.
        assert sorted(listed_operation_ids(stack, bank_id)) == sorted(accepted)
        stored = [m for op in finals for m in op["result"]["memory_ids"]]
        assert len(stored) == len(set(stored)) == sum(op["total"] for op in finals)
        assert stack.memory_count(bank_id) == len(stored)
