"""Large operation tables for the admin scale tests, without going through the runner: rows in
every status, spread over ``days`` days, inserted in bulk."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from banks.models import Bank
from operations.models import Operation
from operations.states import OperationStatus, OperationType

S = OperationStatus
STATUS_MIX = [S.COMPLETED] * 6 + [S.FAILED, S.CANCELLED, S.PENDING, S.RUNNING]


def seed_operations(banks: list[Bank], n: int, days: int = 40, end: datetime | None = None,
                    seed: int = 7) -> None:
    """Insert ``n`` operations spread over the ``days`` days before ``end``. Timestamps are
    set by one UPDATE per day afterwards (``auto_now_add`` ignores values given to
    ``bulk_create``)."""
    rng = random.Random(seed)
    end = end or timezone.now()
    rows = []
    for _ in range(n):
        status = rng.choice(STATUS_MIX)
        total = rng.randint(1, 5000)
        progress = total if status == S.COMPLETED else rng.randint(0, total)
        rows.append(Operation(
            bank=rng.choice(banks), type=OperationType.BATCH_RETAIN, status=status,
            progress=0 if status == S.PENDING else progress, total=total,
        ))
    Operation.objects.bulk_create(rows, batch_size=2000)
    per_day = max(1, n // days)
    for day in range(days):
        chunk = [row.pk for row in rows[day * per_day : (day + 1) * per_day]]
        if not chunk:
            break
        created = end - timedelta(days=day, minutes=5)
        Operation.objects.filter(pk__in=chunk).update(created_at=created)
        Operation.objects.filter(pk__in=chunk).exclude(status=S.PENDING).update(
            started_at=created + timedelta(seconds=2))
        Operation.objects.filter(pk__in=chunk, status__in=[S.COMPLETED, S.FAILED, S.CANCELLED]
                                 ).update(completed_at=created + timedelta(seconds=30))
