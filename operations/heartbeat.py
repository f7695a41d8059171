"""The heartbeat of a running operation, independent of chunk boundaries.

Every committed chunk already advances ``heartbeat_at``; this thread also advances it every
``HINDSIGHT_HEARTBEAT_INTERVAL`` seconds while a single chunk is slow, so the reaper only ever
takes over an operation whose worker is really gone (killed, frozen machine, lost network).
The write is ``transitions.heartbeat``: a compare-and-set that only matches while the operation
is running and owned by this worker, so a cancelled or taken-over run stops beating by itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

from . import transitions

logger = logging.getLogger(__name__)


class HeartbeatThread(threading.Thread):
    """Beats for one (operation, worker) pair until stopped or until the CAS matches nothing."""

    def __init__(self, operation_id: object, worker_id: str, interval: float) -> None:
        super().__init__(name=f"hindsight-heartbeat-{operation_id}", daemon=True)
        self.operation_id = operation_id
        self.worker_id = worker_id
        self.interval = interval
        self.beats = 0
        self.lost = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.interval):
                try:
                    owned = transitions.heartbeat(self.operation_id, self.worker_id)
                except Exception:
                    # SQLite busy past its timeout, a database restart...: the next beat (or
                    # the next chunk commit) tries again; the reaper tolerates STALE_AFTER.
                    logger.warning("heartbeat of %s failed", self.operation_id, exc_info=True)
                    continue
                if not owned:
                    self.lost = True
                    return
                self.beats += 1
        finally:
            # This thread's own connection; the worker's connection is untouched.
            connections.close_all()

    def stop(self) -> None:
        self._stop_event.set()


@contextmanager
def beating(operation_id: object, worker_id: str, interval: float | None = None) -> Iterator[
    HeartbeatThread
]:
    """Run the body with a heartbeat thread for ``operation_id`` owned by ``worker_id``."""
    thread = HeartbeatThread(
        operation_id, worker_id, interval or settings.HINDSIGHT_HEARTBEAT_INTERVAL
    )
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()
        # Never wait long: a beat blocked on SQLite's write lock finishes on its own and then
        # matches nothing (the operation is no longer running for this worker).
        thread.join(timeout=1.0)
