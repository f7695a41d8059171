"""Who runs operations. One setting (``HINDSIGHT_EXECUTOR``) picks the transport; everything
above it is identical. An executor has a tiny interface -- ``dispatch(operation_id)``,
``wake()``, ``health()``, ``start()`` -- the seam where another transport would plug in.

The embedded executor is a small pool of threads inside the serving process that take the next
operation from the scheduler, plus a sweeper thread that reaps stale operations, re-dispatches
unclaimed pending ones and wakes the threads when deferred operations become due.

``make run`` serves with one process per core and every one of them runs an embedded executor:
the scheduler's choice and the claim are compare-and-sets, so two processes never run one
operation twice. A wake-up goes to this process's own threads; when they are all busy and the
server has a *doorbell* (an eventfd the gunicorn master shares with its workers,
``HINDSIGHT_DOORBELL_FD``), it rings it instead: a process with a free thread takes the token
and asks the scheduler. A token nobody can take yet waits in the eventfd until a thread frees up
anywhere.
"""

from __future__ import annotations

import atexit
import logging
import os
import select
import threading
from collections import deque
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from . import scheduler
from .deliveries import DeliveryLoop
from .runner import run_operation
from .sweeper import Sweeper
from .workers import worker_id

logger = logging.getLogger(__name__)

OWNER_KIND = "embedded"


class Executor(Protocol):
    name: str

    def dispatch(self, operation_id: str) -> None: ...

    def wake(self) -> None: ...

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
    """Runs operations on ``HINDSIGHT_WORKERS`` threads of this process.

    Two ways in: ``dispatch(id)`` runs that operation (one already handed out: a re-dispatch by
    the outbox sweep or the reaper), ``wake()`` says the scheduler may have waiting work. An
    idle thread takes the next operation from ``scheduler.take_next`` -- fair across banks --
    and, when it got one, wakes another idle thread, so a backlog fans out to every thread and
    a bank alone still uses all of them."""

    name = "embedded"

    def __init__(self, workers: int, doorbell: int = 0) -> None:
        self.workers = workers
        self._doorbell = doorbell if _is_eventfd(doorbell) else 0  # 0: single process
        self._listener: threading.Thread | None = None
        self._cond = threading.Condition()
        self._explicit: deque[str] = deque()
        self._wakeups = 0
        self._busy = 0  # threads taking or running an operation
        self._in_flight: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._lock = threading.Lock()
        self._sweeper: Sweeper | None = None
        self._deliveries: DeliveryLoop | None = None

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, operation_id: str) -> None:
        operation_id = str(operation_id)
        self.start()
        with self._cond:
            if operation_id in self._in_flight or operation_id in self._explicit:
                return
            self._explicit.append(operation_id)
            self._cond.notify()

    def wake(self) -> None:
        self.start()
        with self._cond:
            ring = bool(self._doorbell) and self._busy >= self.workers
            if not ring:
                self._wakeups += 1
                self._cond.notify()
        if ring:
            os.eventfd_write(self._doorbell, 1)  # a process with a free thread asks

    def _answer_doorbell(self) -> None:
        """While this process has a free thread, take doorbell tokens and wake a local thread
        for each (it asks the scheduler, which decides between processes)."""
        while True:
            with self._cond:
                while self._busy >= self.workers and not self._stopping:
                    self._cond.wait(1.0)
                if self._stopping:
                    return
            ready, _, _ = select.select([self._doorbell], [], [], 1.0)
            if not ready:
                continue
            try:
                os.eventfd_read(self._doorbell)
            except BlockingIOError:
                continue  # another process took the token
            with self._cond:
                # The check above was made before ``select`` waited: this process may have
                # become busy since. A token taken then would wait here for a thread while
                # another process idles, so it goes back for that process to take.
                mine = self._busy < self.workers
                if mine:
                    self._wakeups += 1
                    self._cond.notify()
            if not mine:
                os.eventfd_write(self._doorbell, 1)

    def _next(self) -> tuple[str, bool] | None:
        """Block until there is something to do: (an explicit id, True) or (``""``, False) for
        "ask the scheduler"; None when stopping."""
        with self._cond:
            while not self._explicit and not self._wakeups and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            self._busy += 1
            if self._explicit:
                return self._explicit.popleft(), True
            # Reset before asking the database: a commit after this point wakes us again.
            self._wakeups = 0
            return "", False

    def _loop(self) -> None:
        while (item := self._next()) is not None:
            operation_id, explicit = item
            try:
                close_old_connections()
                if not explicit:
                    taken = scheduler.take_next(1)
                    if taken:
                        operation_id = taken[0]
                        self.wake()  # there may be more: let another idle thread look
                if operation_id and self._run(operation_id) == "pending" and self._sweeper:
                    self._sweeper.poke()  # deferred for a retry: be awake when it is due
            except Exception:
                logger.exception("embedded executor: taking or running %s failed",
                                 operation_id or "the next operation")
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
                connections.close_all()
            if operation_id and not explicit:
                self.wake()  # a slot freed: the scheduler's next choice may now start

    def _run(self, operation_id: str) -> str | None:
        with self._cond:
            if operation_id in self._in_flight:
                return None
            self._in_flight.add(operation_id)
        try:
            return run_operation(operation_id, worker_id(OWNER_KIND))
        finally:
            with self._cond:
                self._in_flight.discard(operation_id)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the threads and the sweeper once per process. The sweeper's first pass resumes
        what a previous process left: operations owned by a dead embedded process on this host,
        and every pending row (grace 0: at start nothing else can be about to run them)."""
        with self._lock:
            if self._sweeper is not None:
                return
            for n in range(self.workers):
                thread = threading.Thread(target=self._loop, name=f"hindsight-op-{n}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
            self._sweeper = Sweeper(self.dispatch, name="hindsight-sweeper",
                                    owner_kind=OWNER_KIND, first_grace=0, wake=self.wake)
            self._deliveries = DeliveryLoop()  # webhooks: its own thread, never the runner's
            # At interpreter exit, running operations finish their run (as a thread pool's
            # workers would) and nothing new is taken: a short-lived process (a management
            # command that submitted or retried) leaves waiting work to the serving process.
            atexit.register(self.stop)
        self._sweeper.start()
        self._deliveries.start()
        if self._doorbell:
            self._listener = threading.Thread(target=self._answer_doorbell,
                                              name="hindsight-doorbell", daemon=True)
            self._listener.start()

    def stop(self, wait: bool = True) -> None:
        """Stop sweeping and let running operations finish their current run."""
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._deliveries is not None:
            self._deliveries.stop()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._listener is not None:
            self._listener.join(timeout=5)
        if wait:
            for thread in self._threads:
                thread.join()

    def idle(self) -> bool:
        with self._cond:
            if self._stopping:  # wake-ups left after a stop are nobody's to take
                return not self._busy
            return not (self._busy or self._explicit or self._wakeups)

    def health(self) -> dict:
        with self._cond:
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
    """Tell the executor, once the row that describes the operation is committed, that the
    scheduler has waiting work (it starts when its turn comes, see ``operations.scheduler``).
    If the transport fails, the row stays pending and the sweeper wakes the executor later."""

    def _wake() -> None:
        try:
            get_executor().wake()
        except Exception:
            logger.warning("dispatch of %s failed; the sweeper will retry", operation_id,
                           exc_info=True)

    transaction.on_commit(_wake)
