"""Swapping the process's executor in a test: ``PausedExecutor`` takes nothing, so submitted
operations stay pending exactly where the test puts them; ``install`` makes an executor the one
``get_executor()`` returns, stopping the previous one (the next test gets a fresh one)."""

from __future__ import annotations

import operations.executor as executor_module
from operations.executor import EmbeddedExecutor


class PausedExecutor(EmbeddedExecutor):
    """Starts no thread and no sweeper; wake-ups and dispatches are dropped."""

    def start(self) -> None:
        pass

    def wake(self) -> None:
        pass

    def dispatch(self, operation_id: str) -> None:
        pass


def install(executor: object | None) -> None:
    with executor_module._executor_lock:
        previous, executor_module._executor = executor_module._executor, executor
    stop = getattr(previous, "stop", None)
    if stop is not None and previous is not executor:
        stop(wait=True)
