"""Shared fixtures: API clients, a cast of banks, and the embedded executor drained between
tests so no thread of one test writes into the next one's database."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from banks.apikeys import keys_changed
from banks.jobs.batch_retain import BatchRetainJob
from operations.executor import get_executor
from operations.registry import get_job, register
from operations.states import OperationType
from tests.factories import make_bank

# Real redis-server and PostgreSQL fixtures (redis_url, postgres_url, ...), started on demand.
pytest_plugins = ["tests.servers"]


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def bank(db):
    return make_bank("alpha")


@pytest.fixture
def other_bank(db):
    return make_bank("beta")


def wait_idle(timeout: float = 120.0) -> None:
    """Wait for the embedded executor's threads to finish; fail loudly if they do not, rather
    than let one write into the next test's database (issue 18)."""
    executor = get_executor()
    idle = getattr(executor, "idle", None)
    if idle is None:
        return
    deadline = time.monotonic() + timeout
    while not idle():
        if time.monotonic() > deadline:
            pytest.fail(f"the embedded executor is still running operations after {timeout:.0f} s")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _drain_executor():
    yield
    wait_idle()


@pytest.fixture(autouse=True)
def _forget_key_presence():
    """A test's keys vanish with its rolled-back transaction, which no signal reports: drop the
    cached "any active key?" answer between tests."""
    yield
    keys_changed()


class SlowBatchRetain(BatchRetainJob):
    """batch_retain whose chunks take at least ``delay`` seconds, like real slow work would."""

    delay = 0.01

    def process_chunk(self, operation, state, start, limit, deadline, prepared=None):
        outcome = super().process_chunk(operation, state, start, limit, deadline, prepared)
        time.sleep(self.delay)
        return outcome


@pytest.fixture
def slow_chunks(settings):
    """Chunks of 10 items taking >= 10 ms each: a 3,000-item batch runs for seconds, long
    enough to cancel, kill or observe it mid-run on a loaded machine."""
    settings.HINDSIGHT_CHUNK_SIZE = 10
    original = get_job(OperationType.BATCH_RETAIN)
    register(SlowBatchRetain())
    yield settings
    register(original)
