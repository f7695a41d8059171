"""The liveness sweep: reap running operations whose worker stopped heartbeating, and
re-dispatch pending operations nobody claimed (the outbox). It depends on nothing but the
database, so it notices a dead worker even when no RQ worker is alive."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from . import transitions
from .models import Operation
from .states import OperationStatus

logger = logging.getLogger(__name__)


@dataclass
class SweepOutcome:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    redispatched: list[str] = field(default_factory=list)


def seconds_until_stale(stale_after: float | None = None) -> float | None:
    """Seconds until the oldest running heartbeat crosses ``stale_after`` (<= 0: already), or
    None when nothing runs. Sweepers sleep until then instead of a whole interval, so a dead
    worker's operation is taken over right at ``STALE_AFTER``, not up to a sweep later."""
    stale_after = settings.HINDSIGHT_STALE_AFTER if stale_after is None else stale_after
    oldest = Operation.objects.filter(status=OperationStatus.RUNNING).aggregate(
        oldest=Min("heartbeat_at")
    )["oldest"]
    if oldest is None:
        return None
    return (oldest + timedelta(seconds=stale_after) - timezone.now()).total_seconds()


def unclaimed_pending(grace: float, limit: int = 500) -> list[str]:
    """Pending operations untouched for ``grace`` seconds, picked for re-dispatch (their grace
    period restarts, see ``transitions.take_unclaimed``)."""
    return transitions.take_unclaimed(timezone.now() - timedelta(seconds=grace), limit)


def sweep(
    dispatch: Callable[[str], object] | None,
    stale_after: float | None = None,
    grace: float | None = None,
    max_attempts: int | None = None,
) -> SweepOutcome:
    """Reap stale running operations, then (if ``dispatch`` is given) re-dispatch requeued and
    long-unclaimed pending ones."""
    stale_after = settings.HINDSIGHT_STALE_AFTER if stale_after is None else stale_after
    grace = settings.HINDSIGHT_DISPATCH_GRACE if grace is None else grace
    max_attempts = settings.HINDSIGHT_MAX_ATTEMPTS if max_attempts is None else max_attempts
    reaped = transitions.reap_stale(stale_after, max_attempts)
    outcome = SweepOutcome(requeued=reaped.requeued, failed=reaped.failed)
    for pk in reaped.requeued:
        logger.warning("operation %s: worker lost, requeued", pk)
    for pk in reaped.failed:
        logger.error("operation %s: worker lost too often, failed", pk)
    if dispatch is not None:
        targets = list(dict.fromkeys(reaped.requeued + unclaimed_pending(grace)))
        for pk in targets:
            try:
                dispatch(pk)
                outcome.redispatched.append(pk)
            except Exception as exc:  # the transport is down; the row stays pending for the next
                # sweep (one line, no traceback: an outage repeats it every pass)
                logger.warning("re-dispatch of %s failed (%s: %s); will retry", pk,
                               type(exc).__name__, exc)
                break
    return outcome
