"""The official ``hindsight-client`` (1.1.0, from PyPI) driving a live server of this project.

Its ``operations`` API is coroutines only; they run on the client's own loop through
``hindsight_client.hindsight_client._run_async`` (exposed here as ``run``), which is what a
synchronous user of the client does -- never ``asyncio.run`` after a sync call, which would close
the loop the client's session lives on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hindsight_client import Hindsight
from hindsight_client.hindsight_client import _run_async

run = _run_async


@pytest.fixture
def hindsight(live_server) -> Iterator[Hindsight]:
    client = Hindsight(base_url=live_server.url, timeout=60.0)
    yield client
    client.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def op_status(client: Hindsight, bank_id: str, operation_id: str):
    return run(client.operations.get_operation_status(bank_id, operation_id))
