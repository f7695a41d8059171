"""The operations dashboard (``/admin/operations/operation/dashboard/``): throughput, waits and
run times over the last hour, day or week, what runs now (live bars), what is stale or on a
retry, and the executor. Figures from ``operations.dashboard``; charts from ``admin_charts``.

Same permission as the operations list (staff with ``view_operation``); Cancel/Retry buttons
only for staff who may operate.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from banks.models import Bank

from . import admin_live, dashboard
from .admin_charts import Series, Spread, percentile_bars, stacked_bars
from .formatting import format_duration
from .states import OperationStatus, OperationType

S = OperationStatus
TYPE_COLOURS = {
    OperationType.BATCH_RETAIN: "#1d6fa5",
    OperationType.GRAPH_UPDATE: "#7d3c98",
    OperationType.REGENERATE_OBSERVATIONS: "#b9770e",
}
OUTCOME_STYLE = {  # colour and pattern: completed solid, failed cross-hatched, cancelled dotted
    S.COMPLETED: ("#19692c", 0),
    S.FAILED: ("#a61b1b", 3),
    S.CANCELLED: ("#6c757d", 2),
}
BANK_CHOICES_SHOWN = 200  # more banks than this: the bank is typed, not picked


def _types(*keyed: dict) -> list[str]:
    seen = {key if isinstance(key, str) else key[0] for mapping in keyed for key in mapping}
    return [t for t in OperationType.values if t in seen] + sorted(
        seen - set(OperationType.values))


def _label(kind: str) -> str:
    try:
        return str(OperationType(kind).label)
    except ValueError:
        return kind


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else format_duration(timedelta(seconds=value))


def charts(board: dashboard.Dashboard) -> dict[str, object]:
    starts, bucket = board.bar_starts(), board.window.bucket
    per = {"hour": "minute", "day": "20 minutes", "week": "2 hours"}[board.window.name]
    types = _types(board.started, board.finished)
    started = stacked_bars(
        "hs-started", f"Operations started per {per}, by type", starts, bucket,
        [Series(_label(t), board.started.get(t, [0] * len(starts)), TYPE_COLOURS.get(t, "#555"),
                i) for i, t in enumerate(types)],
        "started")
    finished = [
        (_label(t), stacked_bars(
            f"hs-finished-{t}", f"{_label(t)} finished per {per}, by outcome", starts, bucket,
            [Series(str(o.label), board.finished.get((t, o), [0] * len(starts)),
                    *OUTCOME_STYLE[o]) for o in dashboard.OUTCOMES],
            "finished"))
        for t in types
    ]
    units = stacked_bars(
        "hs-units", f"Units processed per second (by finished operations, per {per})", starts,
        bucket, [Series(_label(t), board.units_per_second.get(t, [0.0] * len(starts)),
                        TYPE_COLOURS.get(t, "#555"), i) for i, t in enumerate(types)],
        "units/s", counts=False)
    spreads = {
        name: [Spread(_label(t), figures[t].count, figures[t].p50, figures[t].p95)
               for t in _types(figures)]
        for name, figures in (("wait", board.queue_wait), ("run", board.run_time))
    }
    return {
        "per": per,
        "started_chart": started,
        "finished_charts": finished,
        "units_chart": units,
        "wait_chart": percentile_bars("hs-wait", "Queue wait (created → started) by type",
                                      spreads["wait"], _seconds, "#0b5cad"),
        "run_chart": percentile_bars("hs-run", "Run time (started → completed) by type",
                                     spreads["run"], _seconds, "#19692c"),
    }


def dashboard_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> TemplateResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    window = dashboard.window_named(request.GET.get("window"))
    bank_id = (request.GET.get("bank") or "").strip()
    bank = Bank.objects.filter(bank_id=bank_id).first() if bank_id else None
    unknown_bank = bool(bank_id) and bank is None
    now = timezone.now()
    board = dashboard.build(window, bank, now) if not unknown_bank else None
    running, running_count = dashboard.running(bank) if not unknown_bank else ([], 0)
    troubled, troubled_count = (dashboard.stale_or_retrying(bank, now) if not unknown_bank
                                else ([], 0))
    may_operate = model_admin.has_operate_permission(request)
    watched = {op.pk: op for op in [*running, *troubled]}
    live_config = admin_live.config_json(
        admin_live.page_state(watched.values()), reverse("admin:operations_operation_live"),
        "list")

    def rows(ops: list) -> list[dict]:
        return [{
            "op": op,
            "url": reverse("admin:operations_operation_change", args=[op.pk]),
            "status": admin_live.live_cell(op, "status", admin_live.status_cell(op, now)),
            "progress": admin_live.live_cell(op, "progress", admin_live.progress_bar(op)),
            "duration": admin_live.live_cell(
                op, "duration", admin_live.cells(op, "list", False, now=now)["duration"]),
            "actions": admin_live.live_cell(op, "actions", admin_live.action_buttons(op))
            if may_operate else "",
        } for op in ops]

    banks = list(Bank.objects.order_by("bank_id").values_list("bank_id", flat=True)
                 [:BANK_CHOICES_SHOWN + 1])
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Operations dashboard",
        "subtitle": None,
        "opts": model_admin.model._meta,
        "windows": list(dashboard.WINDOWS.values()),
        "window": window,
        "bank_id": bank_id,
        "bank_choices": banks if len(banks) <= BANK_CHOICES_SHOWN else None,
        "unknown_bank": unknown_bank,
        "board": board,
        "running": rows(running),
        "running_count": running_count,
        "pending_count": dashboard.pending_count(bank) if not unknown_bank else 0,
        "troubled": rows(troubled),
        "troubled_count": troubled_count,
        "count_cap": dashboard.COUNT_CAP,
        "executor": dashboard.executor_state(),
        "webhooks": (dashboard.webhook_trouble(window, bank, now) if not unknown_bank
                     else None),
        "may_operate": may_operate,
        "hs_live": live_config,
        "generated_at": now,
        **(charts(board) if board is not None else {}),
    }
    return TemplateResponse(request, "admin/operations/operation/dashboard.html", context)
