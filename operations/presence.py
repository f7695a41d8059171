"""What every RQ worker tells the database about itself: alive, reaching Redis or not, how many
times it reconnected (``WorkerPresence`` rows).

The database, not Redis, is where this lives: during a Redis outage RQ's own worker registry is
unreachable (and after Redis restarts empty it is gone), yet ``/health`` must still say that the
workers are alive and waiting, and the reconnect counter of ``/metrics`` must survive the outage it
counts. Every write is best effort: a database that is down too must not stop a worker, so
failures are logged and skipped (the next sweep writes again).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F, Sum
from django.utils import timezone

from .models import WorkerPresence

logger = logging.getLogger(__name__)

# Rows of workers gone this long are deleted when a worker starts (their reconnects leave the
# counter then: Prometheus reads that as a counter reset, like a restarted process).
_FORGET_AFTER = timedelta(days=7)


def _best_effort(what: str, name: str, **fields: object) -> None:
    try:
        WorkerPresence.objects.filter(name=name).update(**fields)
    except DatabaseError as exc:
        logger.warning("worker %s: could not record %s in the database (%s)", name, what, exc)
    finally:
        # Called from the worker's main thread between jobs: never keep a connection that a
        # database restart would leave broken for the next caller.
        connections.close_all()


def started(name: str) -> None:
    """Record a worker that just started (and forget workers gone for a week)."""
    now = timezone.now()
    try:
        WorkerPresence.objects.filter(seen_at__lt=now - _FORGET_AFTER).delete()
        WorkerPresence.objects.update_or_create(
            name=name,
            defaults={"host": socket.gethostname(), "pid": os.getpid(), "started_at": now,
                      "seen_at": now, "stopped_at": None},
        )
    except DatabaseError as exc:
        logger.warning("worker %s: could not record its start in the database (%s)", name, exc)
    finally:
        connections.close_all()


def seen(name: str) -> None:
    """The worker is alive (its sweeper calls this every pass)."""
    _best_effort("its liveness", name, seen_at=timezone.now())


def redis_lost(name: str, error: str) -> None:
    now = timezone.now()
    _best_effort("the Redis outage", name, redis_down_since=now, redis_error=error[:500],
                 seen_at=now)


def redis_back(name: str) -> None:
    _best_effort("the reconnect", name, redis_down_since=None, redis_error="",
                 reconnects=F("reconnects") + 1, seen_at=timezone.now())


def stopped(name: str) -> None:
    _best_effort("its stop", name, stopped_at=timezone.now())


@dataclass
class WorkersState:
    alive: int
    waiting_for_redis: int
    waiting_since: str | None  # the oldest outage still going on, ISO 8601
    reconnects_total: int

    def as_dict(self) -> dict:
        return {"alive": self.alive, "waiting_for_redis": self.waiting_for_redis,
                "waiting_since": self.waiting_since, "redis_reconnects_total":
                    self.reconnects_total}


def workers_state(alive_within: float | None = None) -> WorkersState:
    """Workers seen within ``alive_within`` seconds (default: two sweeps, at least
    ``HINDSIGHT_STALE_AFTER``) and not stopped; of those, the ones that cannot reach Redis; and
    the reconnects of every worker row kept."""
    if alive_within is None:
        alive_within = max(settings.HINDSIGHT_STALE_AFTER, 2 * settings.HINDSIGHT_SWEEP_INTERVAL)
    since = timezone.now() - timedelta(seconds=alive_within)
    alive = WorkerPresence.objects.filter(stopped_at__isnull=True, seen_at__gte=since)
    waiting = alive.filter(redis_down_since__isnull=False).order_by("redis_down_since")
    first = waiting.values_list("redis_down_since", flat=True).first()
    total = WorkerPresence.objects.aggregate(n=Sum("reconnects"))["n"] or 0
    return WorkersState(alive=alive.count(), waiting_for_redis=waiting.count(),
                        waiting_since=first.isoformat() if first else None,
                        reconnects_total=total)
