"""SQLite backend with a fair, process-wide write gate.

SQLite has one writer at a time, and its busy handler polls with back-off (up to 100 ms between
tries). A runner that commits a chunk and immediately begins the next one re-takes the lock
before a waiting writer's next poll, so a cancel request could starve until the whole operation
finished. Every write transaction of this process (Django opens them with ``BEGIN IMMEDIATE``)
therefore first takes a FIFO ticket: writers in the embedded server -- API requests, executor
threads, the sweeper -- get the lock in arrival order, and a cancel waits at most one chunk.

``make run`` serves with several processes, so writers in other processes are the normal case:
after its in-process ticket a write transaction also takes an exclusive ``flock`` on a file next
to the database (``<db>-writegate``). The kernel hands it over the moment it is released, so
writers of different processes queue on it instead of on SQLite's busy handler (which sleeps up
to 100 ms between tries and gives up with "database is locked" after the timeout); a process that
dies releases it with its file descriptors. Single statements outside a transaction still use
the busy timeout, and hold the lock for one statement only.
"""

from __future__ import annotations

import fcntl
import os
import threading

from django.db.backends.sqlite3 import base


class FairLock:
    """A FIFO ticket lock: threads acquire in the order they asked."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


WRITE_GATE = FairLock()


class ProcessGate:
    """An exclusive ``flock`` on ``<database>-writegate``, opened once per process (a forked
    child opens its own: a lock belongs to an open file description, which fork shares)."""

    def __init__(self) -> None:
        self._fds: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def _fd(self, database: str) -> int | None:
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        key = (os.getpid(), database)
        with self._lock:
            if key not in self._fds:
                self._fds[key] = os.open(f"{database}-writegate", os.O_RDWR | os.O_CREAT, 0o600)
            return self._fds[key]

    def acquire(self, database: str) -> int | None:
        fd = self._fd(database)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @staticmethod
    def release(fd: int | None) -> None:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


PROCESS_GATE = ProcessGate()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_gate = False
    _process_gate: int | None = None

    def _start_transaction_under_autocommit(self) -> None:
        WRITE_GATE.acquire()
        self._holds_gate = True
        try:
            self._process_gate = PROCESS_GATE.acquire(str(self.settings_dict["NAME"]))
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_gate()
            raise

    def _release_gate(self) -> None:
        if self._holds_gate:
            self._holds_gate = False
            PROCESS_GATE.release(self._process_gate)
            self._process_gate = None
            WRITE_GATE.release()

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._release_gate()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._release_gate()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_gate()
