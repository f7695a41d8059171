"""What the CLI prints: rich tables and progress bars on a terminal, plain aligned text when
stdout is a pipe or a file, JSON with ``--json``. Errors and hints go to stderr so that stdout
stays machine-readable."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import formatting

UNITS = {"batch_retain": "items", "regenerate_observations": "entities", "graph_update": "memories",
         "file_retain": "files"}
STATUS_STYLE = {
    "pending": "yellow", "running": "cyan", "completed": "green", "failed": "red",
    "cancelled": "magenta",
}
RATE_WINDOW_SECONDS = 10.0


def unit_of(operation: dict[str, Any]) -> str:
    return UNITS.get(operation.get("type", ""), "items")


def short_time(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


def progress_text(operation: dict[str, Any]) -> str:
    """``450 / 1,000 (45%)``, as ``manage.py operations`` and the admin write it."""
    return formatting.progress_text(operation.get("progress") or 0, operation.get("total") or 0,
                                    operation.get("status") or "")


def retry_text(operation: dict[str, Any], now: datetime | None = None) -> str | None:
    """``retrying in 25 s (attempt 2): <error>`` while a pending operation waits for its
    automatic retry after a transient error; None otherwise."""
    due = operation.get("next_retry_at")
    if operation.get("status") != "pending" or not due:
        return None
    try:
        moment = datetime.fromisoformat(due.replace("Z", "+00:00"))
    except ValueError:
        return None
    wait = max(0, round((moment - (now or datetime.now(UTC))).total_seconds()))
    text = f"retrying in {wait} s (attempt {operation.get('retry_count') or 0})"
    error = operation.get("last_error")
    return f"{text}: {error}" if error else text


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA ?"
    seconds = round(seconds)
    return f"ETA {seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class RateMeter:
    """Throughput of one operation from the progress values we saw, over a sliding window (the
    server only reports committed progress, so the rate is of committed units)."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, progress: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.samples and self.samples[-1][1] == progress:
            return
        self.samples.append((now, progress))
        while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW_SECONDS:
            self.samples.popleft()

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, p0), (t1, p1) = self.samples[0], self.samples[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else None

    def eta(self, operation: dict[str, Any]) -> float | None:
        rate = self.rate()
        if not rate:
            return None
        return max(0, (operation.get("total") or 0) - (operation.get("progress") or 0)) / rate

    def describe(self, operation: dict[str, Any]) -> str:
        rate = self.rate()
        unit = unit_of(operation)
        speed = f"{rate:.1f} {unit}/s" if rate is not None else f"? {unit}/s"
        return f"{speed} {format_eta(self.eta(operation))}"


class Output:
    """One per command run: knows whether to print JSON, rich or plain text."""

    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def rich(self) -> bool:
        return self.console.is_terminal and not self.json_mode

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        if self.rich:
            self.console.print(text)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def note(self, text: str) -> None:
        """Human information that must not pollute stdout (hints, summaries for pipes)."""
        self.err.print(escape(text))

    def error(self, text: str) -> None:
        """Always exactly one line: scripts read errors with ``2>&1 | tail -1``."""
        text = " ".join(text.split())
        self.err.print(f"error: {escape(text)}", style="red" if self.err.is_terminal else None)

    def table(self, columns: list[str], rows: list[list[str]], caption: str = "") -> None:
        if self.rich:
            table = Table(*columns, box=box.SIMPLE_HEAD, caption=caption or None)
            for row in rows:
                table.add_row(*(escape(cell) for cell in row))
            self.console.print(table)
            return
        widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
                  for i, c in enumerate(columns)]
        for row in [columns, *rows]:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.line("  ".join(cells).rstrip())
        if caption:
            self.line(caption)

    def styled_status(self, status: str) -> str:
        return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]" if self.rich else status


def operation_rows(operations: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [op["operation_id"], op["type"], op["status"], progress_text(op),
         str(op.get("failed_items_count") or 0), short_time(op.get("created_at")),
         (op.get("error") or "")[:60]]
        for op in operations
    ]


OPERATION_COLUMNS = ["OPERATION", "TYPE", "STATUS", "PROGRESS", "FAILED", "CREATED", "ERROR"]


def operation_fields(operation: dict[str, Any]) -> list[tuple[str, str]]:
    result = operation.get("result") or {}
    fields = [
        ("operation_id", operation["operation_id"]),
        ("bank_id", operation.get("bank_id") or ""),
        ("type", operation["type"]),
        ("status", operation["status"]),
        ("progress", progress_text(operation)),
        ("stage", operation.get("stage") or "-"),
        ("failed_items", str(operation.get("failed_items_count") or 0)),
        ("attempt", str(operation.get("attempt") or 0)),
        ("created_at", short_time(operation.get("created_at"))),
        ("started_at", short_time(operation.get("started_at"))),
        ("completed_at", short_time(operation.get("completed_at"))),
        ("error", operation.get("error") or "-"),
    ]
    if operation.get("retry_count"):
        fields.append(("retry_count", str(operation["retry_count"])))
    retrying = retry_text(operation)
    if retrying:
        fields.append(("retry", retrying))
    if "memory_ids" in result:
        fields.append(("memories", str(len(result["memory_ids"]))))
    for failure in (result.get("failed_items") or [])[:20]:
        fields.append((f"failed item {failure.get('index')}", str(failure.get("error"))))
    return fields


class ProgressView:
    """Live view of one or more operations: a rich bar per operation on a terminal, else one
    plain line per change. Finished operations leave a summary line and their bar closes."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.meters: dict[str, RateMeter] = {}
        self.tasks: dict[str, TaskID] = {}
        self.last: dict[str, tuple] = {}
        self.progress: Progress | None = None
        if out.rich:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[rate]}"),
                console=out.console, transient=False, refresh_per_second=8,
            )

    def __enter__(self) -> ProgressView:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _description(self, op: dict[str, Any]) -> str:
        return f"{op['operation_id'][:8]} {self.out.styled_status(op['status'])}"

    def update(self, op: dict[str, Any]) -> None:
        op_id = op["operation_id"]
        meter = self.meters.setdefault(op_id, RateMeter())
        meter.add(op.get("progress") or 0)
        if op["status"] in ("completed", "failed", "cancelled"):
            self.finish(op)
            return
        if self.out.json_mode:
            self.out.json(op)
            return
        retrying = retry_text(op)
        if self.progress is None:
            state = (op["status"], op.get("progress"), op.get("total"), op.get("next_retry_at"))
            if self.last.get(op_id) != state:
                self.last[op_id] = state
                self.out.line(f"{op_id} {op['status']} {progress_text(op)} "
                              f"{retrying or meter.describe(op)}")
            return
        fields = {"description": self._description(op), "total": op.get("total") or None,
                  "completed": op.get("progress") or 0,
                  "rate": escape(retrying) if retrying else meter.describe(op)}
        if op_id in self.tasks:
            self.progress.update(self.tasks[op_id], **fields)
        else:
            self.tasks[op_id] = self.progress.add_task(**fields)

    def finish(self, op: dict[str, Any]) -> None:
        op_id = op["operation_id"]
        if self.out.json_mode:
            self.out.json(op)
            return
        # The operation's own times on the server, not how long we happened to watch it.
        took = formatting.finished_text(op.get("created_at"), op.get("started_at"),
                                        op.get("completed_at"))
        summary = (f"{op_id} {self.out.styled_status(op['status'])} {progress_text(op)}"
                   f"{' ' + took if took else ''}, {op.get('failed_items_count') or 0} failed")
        if op.get("error"):
            summary += f": {escape(op['error']) if self.out.rich else op['error']}"
        if self.progress is not None:
            task = self.tasks.pop(op_id, None)
            if task is not None:
                self.progress.remove_task(task)
            self.progress.console.print(summary)
        else:
            self.out.line(summary)


class UploadProgress:
    """Bytes of files sent so far, as a bar on stderr (a no-op without a terminal or with
    ``--json``). A batch's bytes count as they stream and are confirmed when it is answered;
    a batch the server refused (and that is re-cut) is taken back."""

    def __init__(self, progress: Progress | None, task: TaskID | None, files: int) -> None:
        self._progress, self._task, self._files = progress, task, files
        self._confirmed = self._current = self._files_done = 0

    def _show(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self._confirmed + self._current,
                                  files=f"{self._files_done}/{self._files} files")

    def sent(self, size: int) -> None:
        self._current += size
        self._show()

    def rewind(self) -> None:
        self._current = 0
        self._show()

    def files_done(self, count: int, size: int) -> None:
        self._files_done += count
        self._confirmed += size
        self._current = 0
        self._show()


@contextmanager
def upload_progress(out: Output, total_bytes: int, files: int) -> Iterator[UploadProgress]:
    if out.json_mode or not out.err.is_terminal:
        yield UploadProgress(None, None, files)
        return
    columns = (TextColumn("uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TextColumn("{task.fields[files]}"))
    with Progress(*columns, console=out.err, transient=True) as progress:
        task = progress.add_task("upload", total=total_bytes, files=f"0/{files} files")
        yield UploadProgress(progress, task, files)
