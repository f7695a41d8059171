"""The operations admin: a read-only window on every operation, with bulk actions and
Cancel/Retry buttons that call the service layer (``operations.admin_actions``).

No admin form can change an operation: ``has_change_permission`` is False, so the change page
is a view page, and status, progress and total are only ever written by
``operations.transitions``. Acting on operations needs the ``operations.change_operation``
permission (the custom "operate" permission below).
"""

from __future__ import annotations

import contextlib
import json
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import ShowFacets
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_rq.models import Dashboard as RQDashboard

from banks.models import Bank, Memory
from hindsight_project.admin_lists import CappedCountPaginator, with_indexed_dates

from . import admin_dashboard, admin_live, maintenance, reads, services
from .admin_actions import cancel_selected, delete_selected_terminal, retry_selected
from .admin_live import live_cell, progress_bar, status_badge  # noqa: F401 (banks.admin)
from .exceptions import HindsightError, OperationNotFound
from .formatting import (
    format_duration,
    format_timestamp,
    run_time,
    short_id,
    wait_time,
)
from .models import Operation, OperationItemFailure
from .registry import get_job
from .states import ACTIVE, RETRYABLE, TERMINAL

FAILED_ITEMS_SHOWN = 50

admin.site.site_header = "Hindsight Operations"
admin.site.site_title = "Hindsight Operations admin"
admin.site.index_title = "Memory banks and their operations"
admin.site.site_url = "/api/docs/"  # "View site": the API documentation

# django-rq registers its queue dashboard in the admin; in the embedded default there is no
# Redis behind it, so the page could only show connection errors.
if settings.HINDSIGHT_EXECUTOR != "rq" and admin.site.is_registered(RQDashboard):
    admin.site.unregister(RQDashboard)


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = (
        "short_id", "bank_link", "type", "status_badge", "progress_display", "created_at",
        "wait_display", "duration_display",
    )
    list_display_links = ("short_id",)
    list_filter = ("status", "type", "bank")
    date_hierarchy = "created_at"
    search_fields = ("id", "bank__bank_id")
    search_help_text = "An operation id (or its first 8+ characters), or a bank id."
    list_per_page = 100
    list_max_show_all = 100
    show_full_result_count = False
    show_facets = ShowFacets.NEVER  # per-filter counts would scan the whole table
    sortable_by = ("created_at",)  # the order every index serves; other sorts would scan
    list_select_related = ("bank",)
    paginator = CappedCountPaginator
    actions = (cancel_selected, retry_selected, delete_selected_terminal)
    fieldsets = (
        ("Operation", {"fields": ("operation_id", "bank_link", "type", "status_badge",
                                  "progress_display", "stage_display")}),
        ("Timeline", {"fields": ("timeline",)}),
        ("Outcome", {"fields": ("error_display", "failed_items", "result_summary")}),
        ("Worker", {"fields": ("worker_display", "attempt_display", "lost_display",
                               "heartbeat_display", "updated_display")}),
        ("Automatic retry", {"fields": ("retry_count", "next_retry_at", "last_error")}),
    )
    readonly_fields = (
        "operation_id", "bank_link", "type", "status_badge", "progress_display", "stage_display",
        "timeline", "error_display", "failed_items", "result_summary", "worker_display",
        "attempt_display", "lost_display", "heartbeat_display", "updated_display",
        "retry_count", "next_retry_at", "last_error",
    )
    # Every status, progress, retry and heartbeat cell is a ``live_cell``: the page script
    # (static/operations/admin_live.js) refills them from ``live_view`` without a reload.
    change_list_template = "admin/operations/operation/change_list.html"

    # -- permissions: look, and act through services; never edit -------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # operations are submitted through the API, with validation and dispatch

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Django's delete would remove active operations under a running worker; deleting goes
        # through the "Delete selected (finished only)" action instead.
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("operations.change_operation")

    # -- queries --------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Operation]:
        # Only the columns the pages show: no payload (its own table), no error text, no summary.
        query = Operation.objects.select_related("bank")
        url_name = getattr(request.resolver_match, "url_name", None) or ""
        if url_name.endswith("changelist"):
            query = query.only(*reads.LIST_FIELDS).defer("error", "summary")
        return with_indexed_dates(query)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Id prefix -> a primary-key range (index seek); otherwise the bank whose id starts
        with the term. Django's default would be ``LIKE '%term%'`` over a joined million rows."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(bank__in=Bank.objects.filter(bank_id__istartswith=term).values("pk")[:100])
        bounds = maintenance.id_prefix_range(term)
        if bounds is not None and len(term.replace("-", "")) >= 4:
            match |= Q(pk__gte=bounds[0], pk__lte=bounds[1])
        return queryset.filter(match), False

    # -- list columns -----------------------------------------------------------------------------
    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        # Row Cancel/Retry buttons only for staff who may act; viewers see the same list without.
        if self.has_operate_permission(request):
            return (*self.list_display, "row_actions")
        return self.list_display

    @admin.display(description="ID")
    def short_id(self, op: Operation) -> str:
        return short_id(op.pk)

    @admin.display(description="Bank")
    def bank_link(self, op: Operation) -> SafeString:
        url = reverse("admin:operations_operation_changelist") + f"?bank__id__exact={op.bank_id}"
        return format_html('<a href="{}">{}</a>', url, op.bank.bank_id)

    @admin.display(description="Status")
    def status_badge(self, op: Operation) -> SafeString:
        return live_cell(op, "status", admin_live.status_cell(op, timezone.now()))

    @admin.display(description="Progress")
    def progress_display(self, op: Operation) -> SafeString:
        return live_cell(op, "progress", progress_bar(op))

    @admin.display(description="Wait time")
    def wait_display(self, op: Operation) -> SafeString:
        return live_cell(op, "wait", format_duration(wait_time(op)))

    @admin.display(description="Duration")
    def duration_display(self, op: Operation) -> SafeString:
        return live_cell(op, "duration", format_duration(run_time(op)))

    @admin.display(description="Act")
    def row_actions(self, op: Operation) -> SafeString:
        return live_cell(op, "actions", admin_live.action_buttons(op))

    # -- change (view) page ---------------------------------------------------------------------
    @admin.display(description="Operation id")
    def operation_id(self, op: Operation) -> str:
        return str(op.pk)

    @admin.display(description="Stage")
    def stage_display(self, op: Operation) -> SafeString:
        return live_cell(op, "stage", op.stage or "—")

    @admin.display(description="Timeline")
    def timeline(self, op: Operation) -> SafeString:
        return live_cell(op, "timeline", admin_live.timeline(op, timezone.now()))

    @admin.display(description="Error")
    def error_display(self, op: Operation) -> SafeString:
        return live_cell(op, "error", admin_live.error_cell(op))

    @admin.display(description="Failed items")
    def failed_items(self, op: Operation) -> SafeString:
        return live_cell(op, "failed", self._failed_items(op))

    @admin.display(description="Result")
    def result_summary(self, op: Operation) -> SafeString:
        return live_cell(op, "result", self._result(op))

    @admin.display(description="Worker id")
    def worker_display(self, op: Operation) -> SafeString:
        return live_cell(op, "worker_id", op.worker_id or "—")

    @admin.display(description="Attempt")
    def attempt_display(self, op: Operation) -> SafeString:
        return live_cell(op, "attempt", str(op.attempt))

    @admin.display(description="Lost count")
    def lost_display(self, op: Operation) -> SafeString:
        return live_cell(op, "lost_count", str(op.lost_count))

    @admin.display(description="Heartbeat at")
    def heartbeat_display(self, op: Operation) -> SafeString:
        return live_cell(op, "heartbeat", format_timestamp(op.heartbeat_at))

    @admin.display(description="Updated at")
    def updated_display(self, op: Operation) -> SafeString:
        return live_cell(op, "updated_at", format_timestamp(op.updated_at))

    def _failed_items(self, op: Operation) -> SafeString | str:
        if not op.failed_items_count:
            return "none"
        rows = OperationItemFailure.objects.filter(operation=op).order_by("index")
        shown = list(rows[:FAILED_ITEMS_SHOWN])
        more = op.failed_items_count - len(shown)
        return format_html(
            '<table class="hs-failures"><tr><th>Item</th><th>Error</th></tr>{}</table>{}',
            format_html_join("", "<tr><td>{}</td><td>{}</td></tr>",
                             ((f.index, f.error) for f in shown)),
            format_html("<p>… and {} more</p>", f"{more:,}") if more > 0 else "",
        )

    def _result(self, op: Operation) -> SafeString | str:
        if op.status not in TERMINAL:
            return "available when the operation has finished"
        try:
            summary = get_job(op.type).summary(op)
        except HindsightError:  # a type whose job module is not installed here
            summary = op.summary or {}
        memories = Memory.objects.filter(operation=op).count()
        url = reverse("admin:banks_memory_changelist") + f"?operation__id__exact={op.pk}"
        return format_html(
            '<code>{}</code><br><a href="{}">{} memories from this operation</a>',
            json.dumps(summary), url, f"{memories:,}",
        )

    def _detail_cells(self) -> dict:
        return {"failed": self._failed_items, "result": self._result}

    # -- live updates, Cancel / Retry buttons -------------------------------------------------
    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("live/", view(self.live_view), name="operations_operation_live"),
            path("dashboard/", view(self.dashboard_view), name="operations_operation_dashboard"),
            path("<uuid:object_id>/cancel/", view(self.cancel_view),
                 name="operations_operation_cancel"),
            path("<uuid:object_id>/retry/", view(self.retry_view),
                 name="operations_operation_retry"),
            *super().get_urls(),
        ]

    def _live_context(self, operations: list[Operation], view: str) -> dict:
        url = reverse("admin:operations_operation_live")
        return {"hs_live": admin_live.config_json(admin_live.page_state(operations), url, view)}

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict | None = None) -> TemplateResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect or an action's confirmation page
            response.context_data.update(
                self._live_context(list(changelist.result_list), "list"))
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> TemplateResponse:
        status = None
        with contextlib.suppress(ValueError):  # a malformed id: Django's view answers it
            status = Operation.objects.filter(pk=uuid.UUID(str(object_id))).values_list(
                "status", flat=True).first()
        may_operate = self.has_operate_permission(request)
        extra_context = {
            **(extra_context or {}),
            "may_operate": may_operate,
            "can_cancel": may_operate and status in ACTIVE,
            "can_retry": may_operate and status in RETRYABLE,
        }
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if original is not None:
            response.context_data.update(self._live_context([original], "detail"))
        return response

    def live_view(self, request: HttpRequest) -> HttpResponse:
        """The pages' long-poll (``operations.admin_live``); the same permission as the list."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return admin_live.live_response(request, self.has_operate_permission(request),
                                        self._detail_cells())

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        return admin_dashboard.dashboard_view(self, request)

    def _act(self, request: HttpRequest, object_id: uuid.UUID, act: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        try:
            op = maintenance.find_operation(object_id)
        except OperationNotFound:
            raise Http404(f"Operation {object_id} not found") from None
        ok = True
        try:
            if act == "cancel":
                services.cancel_operation(op.bank, op.pk)
                text = f"Cancelled operation {short_id(op.pk)}."
            else:
                services.retry_operation(op.bank, op.pk)
                text = f"Operation {short_id(op.pk)} queued for retry."
        except HindsightError as exc:
            ok, text = False, str(exc)
        if "application/json" in request.headers.get("Accept", ""):
            # The page's script: answer with the row as it is now, so it changes at once.
            op = maintenance.find_operation(op.pk)
            view = "detail" if request.GET.get("view") == "detail" else "list"
            return admin_live.operation_json(op, True, text, ok, view, self._detail_cells())
        self.message_user(request, text, messages.SUCCESS if ok else messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:operations_operation_change", args=[op.pk])
        )

    def cancel_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        return self._act(request, object_id, "cancel")

    def retry_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        return self._act(request, object_id, "retry")

from . import admin_webhooks  # noqa: E402, F401  (webhooks, issue 14)
