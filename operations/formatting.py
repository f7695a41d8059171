"""How operations read to a human: short ids, durations, ``450 / 1,000 (45%)``, plain-text
tables. Shared by the admin and ``manage.py operations`` so both say the same thing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from .models import Operation
from .states import OperationStatus


def short_id(operation_id: object) -> str:
    """The first 8 hex digits: enough to tell rows apart on a screen, and searchable."""
    return str(operation_id)[:8]


def percent(progress: int, total: int, status: str = "") -> int:
    if total <= 0:
        # An empty batch that finished is done, not 0% done.
        return 100 if status == OperationStatus.COMPLETED else 0
    return min(100, progress * 100 // total)


def progress_text(progress: int, total: int, status: str = "") -> str:
    return f"{progress:,} / {total:,} ({percent(progress, total, status)}%)"


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = max(0.0, delta.total_seconds())
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, sec = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} m {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def wait_time(op: Operation, now: datetime | None = None) -> timedelta | None:
    """Created until a worker first claimed it; still counting while it is pending; until the
    cancel when it was cancelled before any start."""
    if op.started_at is not None:
        return op.started_at - op.created_at
    if op.status == OperationStatus.PENDING:
        return (now or timezone.now()) - op.created_at
    if op.completed_at is not None:
        return op.completed_at - op.created_at
    return None


def run_time(op: Operation, now: datetime | None = None) -> timedelta | None:
    """Started until finished; still counting while it runs."""
    if op.started_at is None:
        return None
    if op.completed_at is not None:
        return op.completed_at - op.started_at
    if op.status == OperationStatus.RUNNING:
        return (now or timezone.now()) - op.started_at
    return None


def format_timestamp(value: datetime | None) -> str:
    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned plain-text table (numbers right-aligned), for terminals and logs."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(row[i], int) for row in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells[1:])
    return "\n".join(out)
