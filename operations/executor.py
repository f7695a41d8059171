"""Who runs operations. One setting (``HINDSIGHT_EXECUTOR``) picks the transport; everything
above it is identical. An executor has a tiny interface -- ``dispatch(operation_id)``,
``health()``, ``start()`` -- the seam where another transport would plug in.

The embedded executor is a small thread pool inside the serving process, plus a sweeper thread
that reaps stale operations and re-dispatches unclaimed pending ones.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from . import reaper, transitions
from .models import Operation
from .runner import run_operation
from .states import OperationStatus

logger = logging.getLogger(__name__)


class Executor(Protocol):
    name: str

    def dispatch(self, operation_id: str) -> None: ...

    def health(self) -> dict: ...

    def start(self) -> None: ...


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedExecutor:
    """Runs operations on ``HINDSIGHT_WORKERS`` threads of this process."""

    name = "embedded"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hindsight-op")
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._started = False
        self._stop = threading.Event()
        self._worker_prefix = f"embedded:{socket.gethostname()}:{os.getpid()}"

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
        worker_id = f"{self._worker_prefix}:{threading.get_ident()}"
        try:
            close_old_connections()
            run_operation(operation_id, worker_id)
        except Exception:
            logger.exception("embedded run of %s failed", operation_id)
        finally:
            with self._lock:
                self._in_flight.discard(operation_id)
            connections.close_all()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the sweeper once per process; it first resumes what a previous process left."""
        with self._lock:
            if self._started:
                return
            self._started = True
        thread = threading.Thread(target=self._sweep_loop, name="hindsight-sweeper", daemon=True)
        thread.start()

    def recover_orphans(self) -> list[str]:
        """Requeue running operations owned by a dead embedded process on this host; their
        heartbeats would time out anyway, but there is no reason to wait for that."""
        prefix = f"embedded:{socket.gethostname()}:"
        requeued = []
        running = Operation.objects.filter(
            status=OperationStatus.RUNNING, worker_id__startswith=prefix
        ).values_list("pk", "worker_id")
        for pk, worker_id in running:
            pid = int(worker_id.split(":")[2])
            if pid == os.getpid() or _pid_alive(pid):
                continue
            if transitions.requeue_lost(pk, worker_id, settings.HINDSIGHT_MAX_ATTEMPTS):
                requeued.append(str(pk))
        return requeued

    def _sweep_loop(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                close_old_connections()
                if first:
                    for pk in self.recover_orphans():
                        logger.warning("operation %s: previous process died; resuming", pk)
                # At start every pending row is ours to run (grace 0); later only stale ones.
                reaper.sweep(self.dispatch, grace=0 if first else None)
                first = False
            except Exception:
                logger.exception("sweep failed; will try again")
            finally:
                connections.close_all()
            self._stop.wait(settings.HINDSIGHT_SWEEP_INTERVAL)

    def stop(self, wait: bool = True) -> None:
        """Stop sweeping and let running operations finish their current run."""
        self._stop.set()
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
