"""How an operation reads to a human, in one place for every surface that prints one: the
``hindsight`` CLI, ``manage.py operations`` and the admin (through ``operations.formatting``).
Plain Python, no Django: the CLI imports it without the server, the server imports it as-is."""

from __future__ import annotations

from datetime import datetime, timedelta

COMPLETED = "completed"


def short_id(operation_id: object) -> str:
    """The first 8 hex digits: enough to tell rows apart on a screen, and searchable."""
    return str(operation_id)[:8]


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def percent(progress: int, total: int, status: str = "") -> int:
    if total <= 0:
        # An empty batch that finished is done, not 0% done.
        return 100 if status == COMPLETED else 0
    return min(100, progress * 100 // total)


def progress_text(progress: int, total: int, status: str = "") -> str:
    """``450 / 1,000 (45%)``."""
    return f"{progress:,} / {total:,} ({percent(progress, total, status)}%)"


def format_duration(delta: timedelta | float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 m 05 s``, ``2 h 10 m``, ``1 d 4 h``; ``—`` when unknown."""
    if delta is None:
        return "—"
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    seconds = max(0.0, seconds)
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


def parse_time(value: str | datetime | None) -> datetime | None:
    """An API timestamp (ISO 8601, ``Z`` allowed) or a datetime, as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def finished_text(created: object, started: object, completed: object) -> str:
    """How long a finished operation took on the server: ``in 12 s`` (its run), plus
    ``after 3.1 s queued`` when it waited for a worker (``created`` -> ``started``)."""
    created_at, started_at, completed_at = map(parse_time, (created, started, completed))
    if completed_at is None:
        return ""
    if started_at is None:  # cancelled before any worker took it
        return f"after {format_duration(completed_at - created_at)} queued" if created_at else ""
    text = f"in {format_duration(completed_at - started_at)}"
    if created_at is not None:
        text += f" after {format_duration(started_at - created_at)} queued"
    return text
