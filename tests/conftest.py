"""Shared fixtures: API clients, a cast of banks, and the embedded executor drained between
tests so no thread of one test writes into the next one's database."""

from __future__ import annotations

import queue
import signal
import threading
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


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background by a non-interactive shell (`make test &`, nohup, some
    # CI runners) inherits SIGINT *ignored*, and so would every CLI process it starts: Python
    # then installs no KeyboardInterrupt handler and a Ctrl-C test sees a CLI that cannot be
    # interrupted. The CLI processes must start as from a terminal, with the default.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


class GatedPrepareRetain(BatchRetainJob):
    """batch_retain whose second chunk's preparation waits for a gate, like a long extraction.
    The first chunk is committed and the operation is running when ``preparing`` is set; the
    preparation holds no database lock, so the test can act (cancel, delete) before ``gate``."""

    def __init__(self) -> None:
        self.preparing = threading.Event()
        self.gate = threading.Event()
        self.released = threading.Event()
        self.gated_at = None

    def prepare_chunk(self, operation, state, start, limit, deadline):
        if start > 0 and not self.released.is_set():
            self.gated_at = start
            self.preparing.set()
            self.gate.wait(120)
            self.released.set()
        return super().prepare_chunk(operation, state, start, limit, deadline)


@pytest.fixture
def gated_chunks(settings):
    """Chunks of 10 items; the run stops before its second chunk until ``job.gate`` is set."""
    settings.HINDSIGHT_CHUNK_SIZE = 10
    job = GatedPrepareRetain()
    original = get_job(OperationType.BATCH_RETAIN)
    register(job)
    yield job
    job.gate.set()
    register(original)


class SteppedRetain(BatchRetainJob):
    """batch_retain that pauses before each chunk after the first until the test steps it, so
    a test can look at the operation between two committed chunks (no timing involved)."""

    def __init__(self) -> None:
        self.paused_at: queue.Queue[int] = queue.Queue()
        self.steps = threading.Semaphore(0)
        self.free = threading.Event()

    def prepare_chunk(self, operation, state, start, limit, deadline):
        if start > 0 and not self.free.is_set():
            self.paused_at.put(start)
            self.steps.acquire(timeout=120)
        return super().prepare_chunk(operation, state, start, limit, deadline)

    def next_pause(self, timeout: float = 60.0) -> int:
        """The progress at which the run is paused now (all before it committed)."""
        return self.paused_at.get(timeout=timeout)

    def step(self) -> None:
        self.steps.release()

    def run_free(self) -> None:
        self.free.set()
        self.steps.release()


@pytest.fixture
def stepped_chunks(settings):
    """Chunks of at most 10 items; the run pauses before each chunk after the first."""
    settings.HINDSIGHT_CHUNK_SIZE = 10
    job = SteppedRetain()
    original = get_job(OperationType.BATCH_RETAIN)
    register(job)
    yield job
    job.run_free()
    register(original)
