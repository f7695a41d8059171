"""Long-polls (``GET .../operations/{id}/?wait=S``) without a database query per waiter.

A waiting request parks on an event. One watcher thread per process, running only while someone
waits, reads the version (``updated_at``, ``status``) of every operation being waited on with
*one* query per ``WATCH_INTERVAL`` and wakes the waiters whose operation changed, became
or terminal. So N waiters cost one small indexed query every 100 ms, not N.

A parked request still holds its server thread, so at most ``HINDSIGHT_MAX_WAITERS`` requests
wait at once per process; past that, ``wait`` returns ``None`` at once and the API answers 429
with ``Retry-After`` (the CLI and well-behaved clients come back a second later).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connections

from .models import Operation
from .states import TERMINAL

WATCH_INTERVAL = 0.1


@dataclass
class _Waiter:
    known: datetime
    woken: threading.Event = field(default_factory=threading.Event)


class Watcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[uuid.UUID, list[_Waiter]] = {}
        self._count = 0
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        return self._count

    def wait(self, operation_id: uuid.UUID, known: datetime, timeout: float) -> bool | None:
        """Block until the operation's ``updated_at`` differs from ``known`` (True) or
        ``timeout`` passes (False); None, without waiting, when every slot is taken."""
        waiter = _Waiter(known)
        with self._lock:
            if self._count >= settings.HINDSIGHT_MAX_WAITERS:
                return None
            self._count += 1
            self._waiters.setdefault(operation_id, []).append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="hindsight-watch",
                                                daemon=True)
                self._thread.start()
        try:
            return waiter.woken.wait(timeout)
        finally:
            with self._lock:
                self._count -= 1
                waiters = self._waiters.get(operation_id, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._waiters.pop(operation_id, None)

    def _watch(self) -> None:
        try:
            while True:
                time.sleep(WATCH_INTERVAL)
                with self._lock:
                    if not self._waiters:
                        self._thread = None
                        return
                    ids = list(self._waiters)
                try:
                    close_old_connections()
                    rows = {pk: (updated, status) for pk, updated, status in
                            Operation.objects.filter(pk__in=ids)
                            .values_list("pk", "updated_at", "status")}
                except Exception:
                    continue  # database unavailable: the waiters time out as usual
                with self._lock:
                    for pk, waiters in self._waiters.items():
                        # A row this connection cannot see (deleted, or not yet committed
                        # where the request's own transaction wrote it) wakes nobody: the
                        # waiter's timeout answers, and the next poll tells.
                        row = rows.get(pk)
                        if row is None:
                            continue
                        for waiter in waiters:
                            if row[0] != waiter.known or row[1] in TERMINAL:
                                waiter.woken.set()
        finally:
            connections.close_all()


WATCHER = Watcher()
