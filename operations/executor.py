"""Who runs operations. One setting (``HINDSIGHT_EXECUTOR``) picks the transport; everything
above it is identical. An executor has a tiny interface -- ``dispatch(operation_id)``,
``health()``, ``start()`` -- the seam where another transport would plug in.

The embedded executor is a small thread pool inside the serving process, plus a sweeper thread
that reaps stale operations and re-dispatches unclaimed pending ones.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from .deliveries import DeliveryLoop
from .runner import run_operation
from .sweeper import Sweeper
from .workers import worker_id

logger = logging.getLogger(__name__)

OWNER_KIND = "embedded"


class Executor(Protocol):
    name: str

    def dispatch(self, operation_id: str) -> None: ...

    def health(self) -> dict: ...

    def start(self) -> None: ...


class EmbeddedExecutor:
    """Runs operations on ``HINDSIGHT_WORKERS`` threads of this process."""

    name = "embedded"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hindsight-op")
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._sweeper: Sweeper | None = None
        self._deliveries: DeliveryLoop | None = None

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, operation_id: str) -> None:
        operation_id = str(operation_id)
        self.start()
        with self._lock:
            if operation_id in self._in_flight:
                return
            self._in_flight.add(operation_id)
        self._pool.submit(self._run, operation_id)

    def _run(self, operation_id: str) -> None:
        try:
            close_old_connections()
            run_operation(operation_id, worker_id(OWNER_KIND))
        except Exception:
            logger.exception("embedded run of %s failed", operation_id)
        finally:
            with self._lock:
                self._in_flight.discard(operation_id)
            connections.close_all()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the sweeper once per process. Its first pass resumes what a previous process
        left: operations owned by a dead embedded process on this host, and every pending row
        (grace 0: at start nothing else can be about to run them)."""
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = Sweeper(self.dispatch, name="hindsight-sweeper",
                                    owner_kind=OWNER_KIND, first_grace=0)
            self._deliveries = DeliveryLoop()  # webhooks: its own thread, never the runner's
        self._sweeper.start()
        self._deliveries.start()

    def stop(self, wait: bool = True) -> None:
        """Stop sweeping and let running operations finish their current run."""
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._deliveries is not None:
            self._deliveries.stop()
        self._pool.shutdown(wait=wait)

    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    def health(self) -> dict:
        with self._lock:
            busy = len(self._in_flight)
        return {"status": "ok", "type": self.name, "workers": self.workers, "in_flight": busy}


_executor: Executor | None = None
_executor_lock = threading.Lock()


def get_executor() -> Executor:
    global _executor
    with _executor_lock:
        if _executor is None:
            if settings.HINDSIGHT_EXECUTOR == "rq":
                from .rq_executor import RQExecutor

                _executor = RQExecutor()
            else:
                _executor = EmbeddedExecutor(settings.HINDSIGHT_WORKERS)
        return _executor


def dispatch_on_commit(operation_id: object) -> None:
    """Hand the operation to the executor once the row that describes it is committed. If the
    transport fails, the row stays pending and the sweeper dispatches it later."""

    def _dispatch() -> None:
        try:
            get_executor().dispatch(str(operation_id))
        except Exception:
            logger.warning("dispatch of %s failed; the sweeper will retry", operation_id,
                           exc_info=True)

    transaction.on_commit(_dispatch)
