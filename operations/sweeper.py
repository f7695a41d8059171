"""The one liveness loop of every process that runs or dispatches operations: the embedded
executor's thread, the API process in scale-out, and every RQ worker.

Each pass (``reaper.sweep``) reaps running operations whose heartbeat went stale, re-dispatches
pending ones nobody claimed (the outbox), and, where the process can check them, takes over
operations whose owner process on this machine died (``workers.recover_dead_owners``). Then
the executor's own per-pass duty, if any (RQ: stop cancelled jobs that kept running). It needs
only the database to notice a dead worker; a failing transport is retried next pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connections

from . import reaper
from .workers import recover_dead_owners

logger = logging.getLogger(__name__)


class Sweeper(threading.Thread):
    """Sweeps every ``HINDSIGHT_SWEEP_INTERVAL`` seconds, or sooner when a running operation
    goes stale sooner (woken just after it does; concurrent sweepers split the rows with
    ``SKIP LOCKED``)."""

    def __init__(
        self,
        dispatch: Callable[[str], None],
        *,
        name: str,
        owner_kind: str | None = None,
        first_grace: float | None = None,
        after_pass: Callable[[], object] | None = None,
        on_pass: Callable[[], object] | None = None,
        quiet_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.dispatch = dispatch
        # Owners of this kind on this machine are checked by pid (None: not this process's job).
        self.owner_kind = owner_kind
        # The pending-row grace of the first pass (0: at start every pending row is ours).
        self.first_grace = first_grace
        self.after_pass = after_pass
        # First thing every pass, whatever fails after it: the process's own liveness record
        # (RQ workers: operations.presence), which must go on while the transport is down.
        self.on_pass = on_pass
        # Transport errors expected during an outage: one line, no traceback.
        self.quiet_errors = quiet_errors
        self.passes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sweep_once()
            self._stop_event.wait(self.next_wait())

    @staticmethod
    def next_wait() -> float:
        interval = settings.HINDSIGHT_SWEEP_INTERVAL
        try:
            due = reaper.seconds_until_stale()
        except Exception:
            return interval
        finally:
            connections.close_all()
        if due is None:
            return interval
        return max(0.2, min(interval, due + 0.05))

    def sweep_once(self) -> None:
        if self.on_pass is not None:
            try:
                self.on_pass()
            except Exception:
                logger.exception("sweep: liveness record failed; will try again")
        try:
            close_old_connections()
            if self.owner_kind is not None:
                for pk in recover_dead_owners(self.owner_kind):
                    self.dispatch(pk)
            grace = self.first_grace if self.passes == 0 else None
            reaper.sweep(self.dispatch, grace=grace)
            if self.after_pass is not None:
                self.after_pass()
        except self.quiet_errors as exc:
            logger.warning("sweep: queue unavailable (%s); will try again", exc)
        except Exception:
            logger.exception("sweep failed; will try again")
        finally:
            connections.close_all()
            self.passes += 1

    def stop(self) -> None:
        self._stop_event.set()

