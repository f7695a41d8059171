"""Shared fixtures: API clients, a cast of banks, and the embedded executor drained between
tests so no thread of one test writes into the next one's database."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from operations.executor import get_executor
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


def wait_idle(timeout: float = 30.0) -> None:
    executor = get_executor()
    idle = getattr(executor, "idle", None)
    if idle is None:
        return
    deadline = time.monotonic() + timeout
    while not idle() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _drain_executor():
    yield
    wait_idle()


@pytest.fixture
def slow_chunks(settings):
    """Tiny chunks so a few-thousand-item batch takes seconds: long enough to act mid-run."""
    settings.HINDSIGHT_CHUNK_SIZE = 3
    return settings
