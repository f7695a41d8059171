"""Retention on a schedule: the sweepers delete terminal operations older than
``HINDSIGHT_RETENTION_DAYS`` (0 keeps them forever), a bounded number of short batches per pass,
so a big backlog of expired rows is worked off over several passes without holding the write
lock. ``manage.py operations prune`` does the same on demand (``maintenance.prune_terminal``)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from . import transitions
from .models import Operation
from .states import TERMINAL

BATCH = 500
MAX_BATCHES_PER_PASS = 10


def prune_expired(
    days: int | None = None, batch: int = BATCH, max_batches: int = MAX_BATCHES_PER_PASS
) -> int:
    """Delete up to ``batch * max_batches`` expired terminal operations; return how many."""
    days = settings.HINDSIGHT_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    # created_at < cutoff is implied by completed_at < cutoff; it lets the index narrow the scan.
    expired = Operation.objects.filter(
        status__in=TERMINAL, created_at__lt=cutoff, completed_at__lt=cutoff
    ).order_by()
    deleted = 0
    for _ in range(max_batches):
        pks = list(expired.values_list("pk", flat=True)[:batch])
        if not pks:
            break
        deleted += len(transitions.delete_terminal_many(pks))
        if len(pks) < batch:
            break
    return deleted
