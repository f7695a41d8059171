"""The one liveness loop of every process that runs or dispatches operations: the embedded
executor's thread, the API process in scale-out, and every RQ worker.

Each pass (``reaper.sweep``) reaps running operations whose heartbeat went stale, re-dispatches
pending ones nobody claimed (the outbox), and, where the process can check them, takes over
operations whose owner process on this machine died (``workers.recover_dead_owners``), wakes the
executor when the scheduler has waiting work (deferred retries come due here), prunes expired
terminal operations every ``HINDSIGHT_PRUNE_INTERVAL``. Then the executor's own per-pass duty,
if any (RQ: stop cancelled jobs that kept running). It needs
only the database to notice a dead worker; a failing transport is retried next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from . import reaper, retention, scheduler
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
        wake: Callable[[], object] | None = None,
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
        # Tell the executor the scheduler may have work (deferred operations now due, waiting
        # ones whose wake-up was lost with a transport error).
        self.wake = wake
        self.passes = 0
        self._last_prune: float | None = None
        self._checked_at: datetime | None = None
        self._stop_event = threading.Event()
        self._poke_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sweep_once()
            self._poke_event.wait(self.next_wait())
            self._poke_event.clear()

    def poke(self) -> None:
        """Sweep now and recompute the next wake-up (an operation was just deferred: its
        retry is due before the sweeper would otherwise look again)."""
        self._poke_event.set()

    def next_wait(self) -> float:
        interval = settings.HINDSIGHT_SWEEP_INTERVAL
        try:
            due = reaper.seconds_until_stale()
        except Exception:
            return interval
        finally:
            connections.close_all()
        try:
            # Retries that came due after this pass's wake-up check (even if already past:
            # then the next pass comes at once and wakes the executor for them).
            retry_due = scheduler.seconds_until_due(after=self._checked_at)
        except Exception:
            retry_due = None
        finally:
            connections.close_all()
        candidates = [d for d in (due, retry_due) if d is not None]
        if not candidates:
            return interval
        return max(0.05, min(interval, min(candidates) + 0.05))

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
            self._checked_at = timezone.now()
            if self.wake is not None and scheduler.has_waiting(self._checked_at):
                self.wake()
            self.prune_if_due()
            if self.after_pass is not None:
                self.after_pass()
        except self.quiet_errors as exc:
            logger.warning("sweep: queue unavailable (%s); will try again", exc)
        except Exception:
            logger.exception("sweep failed; will try again")
        finally:
            connections.close_all()
            self.passes += 1

    def prune_if_due(self) -> None:
        """Retention on a schedule: every ``HINDSIGHT_PRUNE_INTERVAL`` seconds (and on the first
        pass), delete terminal operations older than ``HINDSIGHT_RETENTION_DAYS`` in bounded
        batches (``retention.prune_expired``). Each sweeper keeps its own clock; concurrent
        prunes delete disjoint batches or nothing (the delete is conditional)."""
        now = time.monotonic()
        if self._last_prune is not None and now - self._last_prune < (
            settings.HINDSIGHT_PRUNE_INTERVAL
        ):
            return
        self._last_prune = now
        pruned = retention.prune_expired()
        if pruned:
            logger.info("retention: pruned %d terminal operations", pruned)

    def stop(self) -> None:
        self._stop_event.set()
        self._poke_event.set()

