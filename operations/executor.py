"""Who runs operations. One setting (``HINDSIGHT_EXECUTOR``) picks the transport; everything
above it is identical. An executor has a tiny interface -- ``dispatch(operation_id)``,
``health()``, ``start()`` -- the seam where another transport would plug in.

The embedded executor is a small thread pool inside the serving process, plus a sweeper thread
that reaps stale operations and re-dispatches unclaimed pending ones. ``make run`` serves with one
process per core and every one of them runs an embedded executor: a claim is a compare-and-set,
so two processes dispatching the same operation still run it once. Dispatch prefers this
process's own threads; when they are all busy and the server has a *doorbell* (an eventfd the
gunicorn master shares with its workers, ``HINDSIGHT_DOORBELL_FD``), it rings it instead of
queueing: one process with a free thread takes the token and runs the oldest pending operation.
A token nobody can take yet waits in the eventfd until a thread frees up anywhere.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from .models import Operation
from .runner import run_operation
from .states import OperationStatus
from .sweeper import Sweeper
from .workers import worker_id

logger = logging.getLogger(__name__)

OWNER_KIND = "embedded"


class Executor(Protocol):
    name: str

    def dispatch(self, operation_id: str) -> None: ...

    def health(self) -> dict: ...

    def start(self) -> None: ...


def _is_eventfd(fd: int) -> bool:
    """Only an inherited eventfd is a doorbell (a stray ``HINDSIGHT_DOORBELL_FD`` is ignored)."""
    if not fd:
        return False
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventfd]"
    except OSError:
        logger.warning("HINDSIGHT_DOORBELL_FD=%s is not an open eventfd; ignored", fd)
        return False


class EmbeddedExecutor:
    """Runs operations on ``HINDSIGHT_WORKERS`` threads of this process."""

    name = "embedded"

    def __init__(self, workers: int, doorbell: int = 0) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hindsight-op")
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._sweeper: Sweeper | None = None
        self._doorbell = doorbell if _is_eventfd(doorbell) else 0  # 0: queue here
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, operation_id: str) -> None:
        operation_id = str(operation_id)
        self.start()
        with self._lock:
            if operation_id in self._in_flight:
                return
            ring = bool(self._doorbell) and len(self._in_flight) >= self.workers
            if not ring:
                self._in_flight.add(operation_id)
        if ring:
            os.eventfd_write(self._doorbell, 1)  # a process with a free thread runs it
            return
        self._pool.submit(self._run, operation_id)

    def _run(self, operation_id: str, then: list[str] | None = None) -> None:
        """Run ``operation_id``; when the doorbell sent us, ``then`` holds the next pending
        candidates to try should another process have claimed this one first."""
        try:
            close_old_connections()
            owner = worker_id(OWNER_KIND)
            for candidate in [operation_id, *(then or [])]:
                if run_operation(candidate, owner) is not None or then is None:
                    break
                if Operation.objects.filter(pk=candidate, worker_id=owner).exists():
                    break  # ours, stopped by a cancel: the token was used
        except Exception:
            logger.exception("embedded run of %s failed", operation_id)
        finally:
            with self._lock:
                self._in_flight.discard(operation_id)
                self._freed.notify_all()
            connections.close_all()

    def _answer_doorbell(self) -> None:
        """While this process has a free thread, take doorbell tokens and run the oldest
        pending operation for each (the claim decides between processes)."""
        while not self._stopping.is_set():
            with self._lock:
                while len(self._in_flight) >= self.workers and not self._stopping.is_set():
                    self._freed.wait(1.0)
            ready, _, _ = select.select([self._doorbell], [], [], 1.0)
            if not ready:
                continue
            try:
                os.eventfd_read(self._doorbell)
            except BlockingIOError:
                continue  # another process took the token
            try:
                close_old_connections()
                with self._lock:
                    busy = set(self._in_flight)
                candidates = [str(pk) for pk in Operation.objects.filter(
                    status=OperationStatus.PENDING).order_by("created_at")
                    .values_list("pk", flat=True)[:len(busy) + 20] if str(pk) not in busy]
            except Exception:
                logger.warning("doorbell: cannot read pending operations", exc_info=True)
                os.eventfd_write(self._doorbell, 1)  # leave the token for another try
                self._stopping.wait(1.0)
                continue
            finally:
                connections.close_all()
            if not candidates:
                continue
            with self._lock:
                self._in_flight.add(candidates[0])
            self._pool.submit(self._run, candidates[0], candidates[1:])

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the sweeper (and the doorbell's listener) once per process. The sweeper's
        first pass resumes what a previous process left: operations owned by a dead embedded
        process on this host, and every pending row (grace 0; exactly-once is the claim's)."""
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = Sweeper(self.dispatch, name="hindsight-sweeper",
                                    owner_kind=OWNER_KIND, first_grace=0)
        self._sweeper.start()
        if self._doorbell:
            self._listener = threading.Thread(target=self._answer_doorbell,
                                              name="hindsight-doorbell", daemon=True)
            self._listener.start()

    def stop(self, wait: bool = True) -> None:
        """Stop sweeping and let running operations finish their current run."""
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._listener is not None:
            self._listener.join(timeout=5)
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
                _executor = EmbeddedExecutor(settings.HINDSIGHT_WORKERS,
                                             settings.HINDSIGHT_DOORBELL_FD)
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
