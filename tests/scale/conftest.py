"""Deployments for the scale-out tests, each a set of real processes (see ``stack.py``).

Module-scoped: starting a stack (migrations, gunicorn, workers) takes a few seconds, so the
tests of one module share it and each test uses its own bank."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.scale.stack import Stack
from tests.servers import PostgresCluster, RedisServer

STACK_ENV = {
    # Fault injection for the failure tests; identical to batch_retain for ordinary items.
    "HINDSIGHT_JOB_MODULES": "tests.scale.faulty_jobs",
    "HINDSIGHT_CHUNK_SIZE": "10",
    # Chunks of exactly 10 items, however slow the machine: the failure tests place their
    # faulty item relative to chunk boundaries (time-based sizing: tests/operations).
    "HINDSIGHT_CHUNK_SECONDS": "60",
    "HINDSIGHT_MAX_ATTEMPTS": "4",
    # Automatic retries after transient faults come quickly (tests/scale/test_scheduling.py).
    "HINDSIGHT_RETRY_SCHEDULE": "0.5",
}


def start_stack(kind: str, cluster: PostgresCluster | None,
                processes: int = 1) -> tuple[Stack, RedisServer | None]:
    redis = None
    database_url = None
    if kind == "rq":
        # Its own redis-server: tests stop and restart it.
        redis = RedisServer()
        redis.start()
        assert cluster is not None
        database_url = cluster.create_database(f"stack_{uuid.uuid4().hex[:10]}")
    stack = Stack(kind, redis=redis, database_url=database_url, env=STACK_ENV,
                  processes=processes)
    try:
        stack.start(workers=2)
    except BaseException:
        print(stack.logs())
        stack.close()
        if redis is not None:
            redis.close()
        raise
    return stack, redis


@pytest.fixture(scope="module")
def rq_stack(postgres_cluster) -> Iterator[Stack]:
    stack, redis = start_stack("rq", postgres_cluster)
    yield stack
    stack.close()
    redis.close()


@pytest.fixture(scope="module")
def embedded_stack() -> Iterator[Stack]:
    stack, _ = start_stack("embedded", None)
    yield stack
    stack.close()


@pytest.fixture
def bank_id() -> str:
    return f"bank-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=["embedded", "embedded-3-processes", "rq"])
def any_stack(request) -> Iterator[Stack]:
    """The same behavioural tests against both ways to run: embedded + SQLite (one server
    process, and three as `make run` serves on a bigger machine: every process runs an
    executor), RQ + PostgreSQL."""
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "rq" else None
    kind, _, processes = request.param.partition("-")
    stack, redis = start_stack(kind, cluster, int(processes.split("-")[0] or 1))
    yield stack
    stack.close()
    if redis is not None:
        redis.close()
