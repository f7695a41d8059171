"""Live admin pages: what changes on an operation's row or page, rendered once here for both
the first page load and every update, and the JSON long-poll that sends the updates.

A page marks each live cell ``<span data-hs-op="<id>" data-hs-field="<name>">``;
``static/operations/admin_live.js`` collects the ids on the page and keeps one request open:
``GET <changelist>/live/?ids=...&view=list&wait=25`` with ``If-None-Match`` set to the version
the page was rendered at. The server answers when any of those operations changed (200 with
every cell's new HTML) or after ``wait`` seconds (304). While nothing on the page is pending or
running, the page waits ``IDLE_WAIT`` seconds instead: one idle long-poll, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from . import live
from .formatting import (
    format_duration,
    format_timestamp,
    percent,
    progress_text,
    run_time,
    wait_time,
)
from .models import Operation
from .states import ACTIVE, RETRYABLE, OperationStatus

S = OperationStatus
ACTIVE_WAIT = 25.0  # seconds a long-poll waits while something on the page runs
IDLE_WAIT = 55.0  # ... and while nothing does (under HINDSIGHT_MAX_WAIT_SECONDS)


# -- cells ---------------------------------------------------------------------------------------
def status_badge(status: str) -> SafeString:
    return format_html(
        '<span class="hs-badge hs-badge--{}">{}</span>', status, OperationStatus(status).label
    )


def progress_bar(op: Operation) -> SafeString:
    pct = percent(op.progress, op.total, op.status)
    return format_html(
        '<div class="hs-progress hs-progress--{}" title="{}" role="progressbar" '
        'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{}">'
        '<div class="hs-progress__bar" style="width: {}%"></div></div>'
        '<span class="hs-progress__text">{}</span>',
        op.status, op.stage or op.status, pct, pct,
        progress_text(op.progress, op.total, op.status),
    )


def _ago(moment: datetime | None, now: datetime) -> str:
    return "never" if moment is None else f"{format_duration(now - moment)} ago"


def is_stale(op: Operation, now: datetime) -> bool:
    """Running, and no heartbeat for ``HINDSIGHT_STALE_AFTER``: the reaper will take it over."""
    limit = timedelta(seconds=settings.HINDSIGHT_STALE_AFTER)
    beat = op.heartbeat_at or op.started_at
    return op.status == S.RUNNING and beat is not None and now - beat > limit


def worker_note(op: Operation, now: datetime) -> str:
    """The retry and heartbeat line under a badge: empty for a first, healthy run."""
    parts = []
    if op.status == S.RUNNING:
        heard = _ago(op.heartbeat_at or op.started_at, now)
        parts.append(f"stale: heartbeat {heard}" if is_stale(op, now) else f"♥ {heard}")
    if op.attempt > 1:
        parts.append(f"attempt {op.attempt}")
    if op.lost_count:
        parts.append(f"{op.lost_count} lost")
    # Automatic retries with backoff (when the model has them): when the next one is due.
    retry_at = getattr(op, "next_retry_at", None)
    if op.status == S.PENDING and retry_at is not None and retry_at > now:
        parts.append(f"retry in {format_duration(retry_at - now)}")
    return " · ".join(parts)


def status_cell(op: Operation, now: datetime) -> SafeString:
    note = worker_note(op, now)
    if not note:
        return status_badge(op.status)
    return format_html('{}<small class="hs-note">{}</small>', status_badge(op.status), note)


def action_buttons(op: Operation) -> SafeString:
    """Row buttons for staff who may operate; the script posts them and updates the row."""
    buttons = []
    if op.status in ACTIVE:
        buttons.append(("cancel", "hs-danger", "Cancel",
                        reverse("admin:operations_operation_cancel", args=[op.pk])))
    if op.status in RETRYABLE:
        buttons.append(("retry", "", "Retry",
                        reverse("admin:operations_operation_retry", args=[op.pk])))
    return format_html_join(
        "", '<button type="button" class="hs-act {}" data-hs-act="{}" data-hs-url="{}" '
        'data-hs-for="{}">{}</button>',
        ((css, act, url, op.pk, label) for act, css, label, url in buttons),
    )


def timeline(op: Operation, now: datetime) -> SafeString:
    steps = [("Created", format_timestamp(op.created_at), "")]
    if op.started_at or op.status == S.PENDING:
        steps.append(("Waited", format_duration(wait_time(op, now)),
                      "still waiting" if op.status == S.PENDING else ""))
    if op.started_at:
        worker = f"attempt {op.attempt}" + (f" on {op.worker_id}" if op.worker_id else "")
        steps.append(("Started", format_timestamp(op.started_at), worker))
        steps.append(("Ran", format_duration(run_time(op, now)),
                      "still running" if op.status == S.RUNNING else ""))
    if op.completed_at:
        steps.append((OperationStatus(op.status).label, format_timestamp(op.completed_at), ""))
    if op.lost_count:
        steps.append(("Lost runs", str(op.lost_count), "worker stopped heartbeating"))
    if op.retry_count:
        steps.append(("Retries", str(op.retry_count), op.last_error[:200]))
    if op.status == S.PENDING and op.next_retry_at and op.next_retry_at > now:
        steps.append(("Retrying", format_timestamp(op.next_retry_at),
                      f"in {format_duration(op.next_retry_at - now)}"))
    return format_html(
        '<ol class="hs-timeline">{}</ol>',
        format_html_join("", "<li><strong>{}</strong> {} <span>{}</span></li>", steps),
    )


def error_cell(op: Operation) -> SafeString | str:
    if not op.error:
        return "—"
    return format_html("<code>{}</code> {}", op.error_type or "Error", op.error)


def live_cell(op: Operation, field: str, inner: object) -> SafeString:
    """The wrapper the script finds and refills; its content is exactly what ``cells`` sends."""
    return format_html('<span class="hs-live" data-hs-op="{}" data-hs-field="{}">{}</span>',
                       op.pk, field, inner)


Renderers = Mapping[str, Callable[[Operation], object]]


def cells(op: Operation, view: str, may_operate: bool,
          extra: Renderers | None = None, now: datetime | None = None) -> dict[str, str]:
    """Every live cell of ``op`` for a ``list`` page (changelist, dashboard) or the ``detail``
    (change) page; ``extra`` renders the detail page's cells that need queries (failed items,
    result) and live with the admin."""
    now = now or timezone.now()
    out = {
        "status": status_cell(op, now),
        "progress": progress_bar(op),
        "wait": format_duration(wait_time(op, now)),
        "duration": format_duration(run_time(op, now)),
        "actions": action_buttons(op) if may_operate else "",
    }
    if view == "detail":
        out.update({
            "stage": op.stage or "—",
            "timeline": timeline(op, now),
            "error": error_cell(op),
            "worker_id": op.worker_id or "—",
            "attempt": str(op.attempt),
            "lost_count": str(op.lost_count),
            "heartbeat": format_timestamp(op.heartbeat_at),
            "updated_at": format_timestamp(op.updated_at),
        })
        out.update({name: render(op) for name, render in (extra or {}).items()})
    return {name: str(html) for name, html in out.items()}


# -- the page's starting point and the long-poll -------------------------------------------------
def page_state(operations: Iterable[Operation]) -> dict[str, object]:
    """What a page embeds for its script: the version it shows and whether anything runs."""
    ops = list(operations)
    return {
        "version": live.version_from((op.pk, op.updated_at) for op in ops),
        "active": live.any_active(ops),
        "active_wait": ACTIVE_WAIT,
        "idle_wait": min(IDLE_WAIT, settings.HINDSIGHT_MAX_WAIT_SECONDS),
    }


def _wait(request: HttpRequest) -> float:
    try:
        wait = float(request.GET.get("wait", "0"))
    except ValueError:
        wait = 0.0
    return max(0.0, min(wait, settings.HINDSIGHT_MAX_WAIT_SECONDS))


def live_response(request: HttpRequest, may_operate: bool,
                  extra: Renderers | None = None) -> HttpResponse:
    """``GET ...?ids=a,b&view=list|detail&wait=s`` (``If-None-Match``: the version the page
    shows): 304 with the same version when nothing changed within ``wait`` seconds, else the
    new version, whether any is still active, and each operation's cells."""
    ids = live.parse_ids(request.GET.get("ids", "").split(","))
    view = "detail" if request.GET.get("view") == "detail" else "list"
    known = request.headers.get("If-None-Match")
    version = live.wait_for_changes(ids, known, _wait(request)) if known else None
    if known is not None and version == known:
        return HttpResponse(status=304, headers={"ETag": version, "Cache-Control": "no-store"})
    ops = list(live.watched(ids))
    now = timezone.now()
    body = {
        "version": live.version_from((op.pk, op.updated_at) for op in ops),
        "active": live.any_active(ops),
        "operations": {str(op.pk): row_state(op, view, may_operate, extra, now) for op in ops},
    }
    return JsonResponse(body, headers={"ETag": body["version"], "Cache-Control": "no-store"})


def row_state(op: Operation, view: str, may_operate: bool, extra: Renderers | None = None,
              now: datetime | None = None) -> dict[str, object]:
    """One operation as the page script applies it. ``stamp`` orders the states of one row: a
    long-poll answered just before a Cancel can arrive after the Cancel's own answer, and the
    script must not put the older state back (a cancelled row showing Cancel again)."""
    return {
        "status": op.status,
        "stamp": int(op.updated_at.timestamp() * 1_000_000),
        "can_cancel": may_operate and op.status in ACTIVE,
        "can_retry": may_operate and op.status in RETRYABLE,
        "cells": cells(op, view, may_operate, extra if view == "detail" else None, now),
    }


def operation_json(op: Operation, may_operate: bool, message: str, ok: bool,
                   view: str = "list", extra: Renderers | None = None) -> JsonResponse:
    """The answer to a Cancel/Retry posted by the script: the message and the row, at once."""
    body = {
        "ok": ok,
        "message": message,
        "operation": {"id": str(op.pk), **row_state(op, view, may_operate, extra)},
    }
    return JsonResponse(body, status=200 if ok else 409)


def config_json(state: dict[str, object], url: str, view: str) -> SafeString:
    """The ``<script type="application/json">`` body the page script starts from."""
    payload = json.dumps({**state, "url": url, "view": view}).replace("<", "\\u003c")
    return mark_safe(payload)
