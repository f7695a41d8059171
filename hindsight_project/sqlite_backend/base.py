"""SQLite backend with a fair, process-wide write gate.

SQLite has one writer at a time, and its busy handler polls with back-off (up to 100 ms between
tries). A runner that commits a chunk and immediately begins the next one re-takes the lock
before a waiting writer's next poll, so a cancel request could starve until the whole operation
finished. Every write transaction of this process (Django opens them with ``BEGIN IMMEDIATE``)
therefore first takes a FIFO ticket: writers in the embedded server -- API requests, executor
threads, the sweeper -- get the lock in arrival order, and a cancel waits at most one chunk.
Writers in *other* processes still rely on SQLite's busy timeout.
"""

from __future__ import annotations

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


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_gate = False

    def _start_transaction_under_autocommit(self) -> None:
        WRITE_GATE.acquire()
        self._holds_gate = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_gate()
            raise

    def _release_gate(self) -> None:
        if self._holds_gate:
            self._holds_gate = False
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
