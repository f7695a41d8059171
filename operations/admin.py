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
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_rq.models import Dashboard as RQDashboard

from banks.models import Bank, Memory
from hindsight_project.admin_lists import CappedCountPaginator, with_indexed_dates

from . import maintenance, services
from .admin_actions import cancel_selected, delete_selected_terminal, retry_selected
from .exceptions import HindsightError, OperationNotFound
from .formatting import (
    format_duration,
    format_timestamp,
    percent,
    progress_text,
    run_time,
    short_id,
    wait_time,
)
from .models import Operation, OperationItemFailure
from .registry import get_job
from .states import ACTIVE, RETRYABLE, TERMINAL, OperationStatus

FAILED_ITEMS_SHOWN = 50

admin.site.site_header = "Hindsight Operations"
admin.site.site_title = "Hindsight Operations admin"
admin.site.index_title = "Memory banks and their operations"
admin.site.site_url = "/api/docs/"  # "View site": the API documentation

# django-rq registers its queue dashboard in the admin; in the embedded default there is no
# Redis behind it, so the page could only show connection errors.
if settings.HINDSIGHT_EXECUTOR != "rq" and admin.site.is_registered(RQDashboard):
    admin.site.unregister(RQDashboard)


def status_badge(status: str) -> SafeString:
    return format_html(
        '<span class="hs-badge hs-badge--{}">{}</span>', status, OperationStatus(status).label
    )


def progress_bar(op: Operation) -> SafeString:
    pct = percent(op.progress, op.total, op.status)
    return format_html(
        '<div class="hs-progress hs-progress--{}" title="{}">'
        '<div class="hs-progress__bar" style="width: {}%"></div></div>'
        '<span class="hs-progress__text">{}</span>',
        op.status, op.stage or op.status, pct, progress_text(op.progress, op.total, op.status),
    )


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
                                  "progress_display", "stage")}),
        ("Timeline", {"fields": ("timeline",)}),
        ("Outcome", {"fields": ("error_display", "failed_items", "result_summary")}),
        ("Worker", {"fields": ("worker_id", "attempt", "lost_count", "heartbeat_at",
                               "updated_at")}),
        ("Automatic retry", {"fields": ("retry_count", "next_retry_at", "last_error")}),
    )
    readonly_fields = (
        "operation_id", "bank_link", "type", "status_badge", "progress_display", "stage",
        "timeline", "error_display", "failed_items", "result_summary", "worker_id", "attempt",
        "lost_count", "heartbeat_at", "updated_at", "retry_count", "next_retry_at", "last_error",
    )

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
            query = query.only(*services.LIST_FIELDS).defer("error", "summary")
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
    @admin.display(description="ID")
    def short_id(self, op: Operation) -> str:
        return short_id(op.pk)

    @admin.display(description="Bank")
    def bank_link(self, op: Operation) -> SafeString:
        url = reverse("admin:operations_operation_changelist") + f"?bank__id__exact={op.bank_id}"
        return format_html('<a href="{}">{}</a>', url, op.bank.bank_id)

    @admin.display(description="Status")
    def status_badge(self, op: Operation) -> SafeString:
        return status_badge(op.status)

    @admin.display(description="Progress")
    def progress_display(self, op: Operation) -> SafeString:
        return progress_bar(op)

    @admin.display(description="Wait time")
    def wait_display(self, op: Operation) -> str:
        return format_duration(wait_time(op))

    @admin.display(description="Duration")
    def duration_display(self, op: Operation) -> str:
        return format_duration(run_time(op))

    # -- change (view) page ---------------------------------------------------------------------
    @admin.display(description="Operation id")
    def operation_id(self, op: Operation) -> str:
        return str(op.pk)

    @admin.display(description="Timeline")
    def timeline(self, op: Operation) -> SafeString:
        now = timezone.now()
        steps = [("Created", format_timestamp(op.created_at), "")]
        if op.started_at or op.status == OperationStatus.PENDING:
            steps.append(("Waited", format_duration(wait_time(op, now)),
                          "still waiting" if op.status == OperationStatus.PENDING else ""))
        if op.started_at:
            worker = f"attempt {op.attempt}" + (f" on {op.worker_id}" if op.worker_id else "")
            steps.append(("Started", format_timestamp(op.started_at), worker))
            running = op.status == OperationStatus.RUNNING
            steps.append(("Ran", format_duration(run_time(op, now)),
                          "still running" if running else ""))
        if op.completed_at:
            steps.append((OperationStatus(op.status).label, format_timestamp(op.completed_at), ""))
        if op.lost_count:
            steps.append(("Lost runs", str(op.lost_count), "worker stopped heartbeating"))
        if op.retry_count:
            steps.append(("Retries", str(op.retry_count), op.last_error[:200]))
        if op.status == OperationStatus.PENDING and op.next_retry_at and op.next_retry_at > now:
            steps.append(("Retrying", format_timestamp(op.next_retry_at),
                          f"in {format_duration(op.next_retry_at - now)}"))
        return format_html(
            '<ol class="hs-timeline">{}</ol>',
            format_html_join("", "<li><strong>{}</strong> {} <span>{}</span></li>", steps),
        )

    @admin.display(description="Error")
    def error_display(self, op: Operation) -> SafeString | str:
        if not op.error:
            return "—"
        return format_html("<code>{}</code> {}", op.error_type or "Error", op.error)

    @admin.display(description="Failed items")
    def failed_items(self, op: Operation) -> SafeString | str:
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

    @admin.display(description="Result")
    def result_summary(self, op: Operation) -> SafeString | str:
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

    # -- Cancel / Retry buttons -----------------------------------------------------------------
    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<uuid:object_id>/cancel/", view(self.cancel_view),
                 name="operations_operation_cancel"),
            path("<uuid:object_id>/retry/", view(self.retry_view),
                 name="operations_operation_retry"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> TemplateResponse:
        status = None
        with contextlib.suppress(ValueError):  # a malformed id: Django's view answers it
            status = Operation.objects.filter(pk=uuid.UUID(str(object_id))).values_list(
                "status", flat=True).first()
        may_operate = self.has_operate_permission(request)
        extra_context = {
            **(extra_context or {}),
            "can_cancel": may_operate and status in ACTIVE,
            "can_retry": may_operate and status in RETRYABLE,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _act(self, request: HttpRequest, object_id: uuid.UUID, act: str) -> HttpResponseRedirect:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        try:
            op = maintenance.find_operation(object_id)
        except OperationNotFound:
            raise Http404(f"Operation {object_id} not found") from None
        try:
            if act == "cancel":
                services.cancel_operation(op.bank, op.pk)
                self.message_user(request, f"Cancelled operation {short_id(op.pk)}.")
            else:
                services.retry_operation(op.bank, op.pk)
                self.message_user(request, f"Operation {short_id(op.pk)} queued for retry.")
        except HindsightError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:operations_operation_change", args=[op.pk])
        )

    def cancel_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponseRedirect:
        return self._act(request, object_id, "cancel")

    def retry_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponseRedirect:
        return self._act(request, object_id, "retry")

from . import admin_webhooks  # noqa: E402, F401  (webhooks, issue 14)
