"""How operations read to a human: short ids, durations, ``450 / 1,000 (45%)``, plain-text
tables. Shared by the admin and ``manage.py operations``; the words and numbers themselves come
from ``hindsight_cli.formatting``, so the ``hindsight`` CLI says exactly the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from hindsight_cli.formatting import (  # noqa: F401 - re-exported for the admin and commands
    format_duration,
    percent,
    plural,
    progress_text,
    short_id,
)

from .models import Operation
from .states import OperationStatus


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
