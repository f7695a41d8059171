"""The operations admin's bulk actions: a confirmation page, then one service call, then a
message with per-outcome counts. Nothing here writes a status: cancel goes through
``services.cancel_operations``, retry through ``maintenance.retry_operations`` (one
``services.retry_operation`` each) and delete through ``maintenance.delete_terminal_operations``.
"""

from __future__ import annotations

from collections import Counter

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from banks.models import Bank

from . import maintenance, services
from .states import ACTIVE, RETRYABLE, TERMINAL, OperationStatus

# One action touches at most this many rows ("select all" on a million-row table included);
# the operator narrows the selection with filters or runs the action again.
MAX_ACTION_ROWS = 10_000
ID_BATCH = 1000


def _selection(queryset: QuerySet) -> tuple[list[str], Counter[str], bool]:
    """Selected ids (newest first, at most ``MAX_ACTION_ROWS``), their statuses, truncated?"""
    rows = list(
        queryset.order_by("-created_at", "-id").values_list("pk", "status")[: MAX_ACTION_ROWS + 1]
    )
    truncated = len(rows) > MAX_ACTION_ROWS
    rows = rows[:MAX_ACTION_ROWS]
    return [str(pk) for pk, _ in rows], Counter(status for _, status in rows), truncated


def _n(count: int, noun: str = "operation") -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _were(count: int) -> str:
    return f"{count:,} {'was' if count == 1 else 'were'}"


def _confirm(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    action: str,
    verb: str,
    acts_on: frozenset[str],
    skipped_note: str,
) -> TemplateResponse:
    ids, by_status, truncated = _selection(queryset)
    select_across = request.POST.get("select_across") == "1"
    affected = sum(n for status, n in by_status.items() if status in acts_on)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{verb} operations?",
        "subtitle": None,
        "opts": modeladmin.model._meta,
        "action": action,
        "verb": verb,
        "affected": affected,
        "affected_text": _n(affected),
        "breakdown": [
            (OperationStatus(status).label, n, status in acts_on)
            for status, n in sorted(by_status.items(), key=lambda item: item[0])
        ],
        "skipped_note": skipped_note,
        "truncated": truncated,
        "max_rows": MAX_ACTION_ROWS,
        "select_across": select_across,
        # With "select all" the changelist's own filters (kept in the form's URL) define the
        # selection; posting 10,000 hidden ids would be pointless.
        "selected_ids": ids[:1] if select_across else ids,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/operations/confirm_action.html", context)


def _confirmed(request: HttpRequest) -> bool:
    return request.POST.get("post") == "yes"


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, done: int, text: str,
            truncated: bool) -> None:
    if truncated:
        text += f" Only the newest {MAX_ACTION_ROWS:,} selected were processed; run it again."
    modeladmin.message_user(request, text, messages.SUCCESS if done else messages.WARNING)


@admin.action(description="Cancel selected operations (pending and running)",
              permissions=["operate"])
def cancel_selected(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    if not _confirmed(request):
        return _confirm(modeladmin, request, queryset, "cancel_selected", "Cancel", ACTIVE,
                        "Finished operations are left as they are.")
    ids, _, truncated = _selection(queryset)
    cancelled = already = not_found = 0
    for start in range(0, len(ids), ID_BATCH):
        outcome = services.cancel_operations(Bank.objects.all(), ids[start : start + ID_BATCH])
        cancelled += len(outcome.cancelled)
        already += outcome.already_terminal
        not_found += outcome.not_found
    text = f"Cancelled {_n(cancelled)}"
    if already:
        text += f"; {_were(already)} already finished"
    if not_found:
        text += f"; {_were(not_found)} no longer there"
    _report(modeladmin, request, cancelled, text + ".", truncated)
    return None


@admin.action(description="Retry selected operations (failed and cancelled)",
              permissions=["operate"])
def retry_selected(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    if not _confirmed(request):
        return _confirm(modeladmin, request, queryset, "retry_selected", "Retry", RETRYABLE,
                        "Only failed and cancelled operations can be retried; they resume "
                        "from their committed progress.")
    ids, _, truncated = _selection(queryset)
    outcome = maintenance.retry_operations(ids)
    text = f"Retried {_n(len(outcome.retried))}"
    for status, n in sorted(outcome.not_retryable.items()):
        text += f"; {_were(n)} {status}"
    if outcome.not_retryable:
        text += " (only failed or cancelled operations can be retried)"
    if outcome.not_found:
        text += f"; {_were(outcome.not_found)} no longer there"
    _report(modeladmin, request, len(outcome.retried), text + ".", truncated)
    return None


@admin.action(description="Delete selected operations (finished only)", permissions=["operate"])
def delete_selected_terminal(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    if not _confirmed(request):
        return _confirm(modeladmin, request, queryset, "delete_selected_terminal", "Delete",
                        TERMINAL, "Pending and running operations are skipped: cancel them "
                        "first. The memories of deleted operations stay.")
    ids, _, truncated = _selection(queryset)
    outcome = maintenance.delete_terminal_operations(ids)
    text = f"Deleted {_n(outcome.deleted, 'finished operation')}"
    if outcome.skipped_active:
        text += f"; {_were(outcome.skipped_active)} still pending or running and skipped"
    if outcome.not_found:
        text += f"; {_were(outcome.not_found)} already gone"
    _report(modeladmin, request, outcome.deleted, text + ".", truncated)
    return None

