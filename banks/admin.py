"""Banks and memories in the admin. Banks: counts per page in two queries (``bank_stats``), a
bulk "cancel their active operations" action, edits and deletes through ``banks.services``.
Memories: read-only, searchable, filtered by bank and document."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import ShowFacets
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from hindsight_project.admin_lists import CappedCountPaginator, with_indexed_dates
from operations import services as operation_services
from operations.admin import status_badge
from operations.formatting import short_id
from operations.models import Operation
from operations.states import ACTIVE, OperationStatus

from . import services
from .models import Bank, Memory


class BankChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # Counts for the banks on this page only: two grouped queries, not two per row.
        stats = services.bank_stats([bank.pk for bank in self.result_list])
        for bank in self.result_list:
            bank.hs_stats = stats[bank.pk]


def _stats(bank: Bank) -> dict:
    stats = getattr(bank, "hs_stats", None)
    if stats is None:  # the change page: one bank
        stats = services.bank_stats([bank.pk])[bank.pk]
        bank.hs_stats = stats
    return stats


@admin.action(description="Cancel all pending and running operations of the selected banks",
              permissions=["operate"])
def cancel_bank_operations(
    modeladmin: BankAdmin, request: HttpRequest, queryset: QuerySet[Bank]
) -> TemplateResponse | None:
    banks = list(queryset)
    if request.POST.get("post") != "yes":
        active = (
            Operation.objects.filter(bank__in=banks, status__in=ACTIVE)
            .order_by().values("status").annotate(n=Count("id"))
        )
        counts = {row["status"]: row["n"] for row in active}
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": "Cancel the operations of these banks?",
            "opts": Bank._meta,
            "banks": banks,
            "pending": counts.get(OperationStatus.PENDING, 0),
            "running": counts.get(OperationStatus.RUNNING, 0),
            "action": "cancel_bank_operations",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/banks/confirm_cancel.html", context)
    outcome = operation_services.cancel_operations(queryset)
    n = len(outcome.cancelled)
    modeladmin.message_user(
        request,
        f"Cancelled {n:,} operation{'' if n == 1 else 's'} in "
        f"{len(banks)} bank{'' if len(banks) == 1 else 's'}.",
        messages.SUCCESS if n else messages.WARNING,
    )
    return None


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ("bank_id", "name", "memory_count", "operation_counts", "created_at")
    search_fields = ("bank_id", "name")
    list_per_page = 100
    show_full_result_count = False
    actions = (cancel_bank_operations,)
    fields = ("bank_id", "name", "mission", "memory_count", "operation_counts", "created_at",
              "updated_at")
    readonly_fields = ("bank_id", "memory_count", "operation_counts", "created_at", "updated_at")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BankChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # banks are created through the API (explicitly or on first retain)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("operations.change_operation")

    @admin.display(description="Memories")
    def memory_count(self, bank: Bank) -> SafeString:
        url = reverse("admin:banks_memory_changelist") + f"?bank__id__exact={bank.pk}"
        return format_html('<a href="{}">{}</a>', url, f"{_stats(bank)['memory_count']:,}")

    @admin.display(description="Operations")
    def operation_counts(self, bank: Bank) -> SafeString | str:
        counts = [(status, n) for status, n in _stats(bank)["operations"].items() if n]
        if not counts:
            return "—"
        base = reverse("admin:operations_operation_changelist") + f"?bank__id__exact={bank.pk}"
        return format_html(
            '<span class="hs-counts">{}</span>',
            format_html_join(
                "", '<a href="{}&status__exact={}">{} {}</a>',
                ((base, status, status_badge(status), f"{n:,}") for status, n in counts),
            ),
        )

    def save_model(self, request: HttpRequest, obj: Bank, form: Any, change: bool) -> None:
        services.update_bank(obj, **{name: form.cleaned_data[name] for name in form.changed_data})

    def delete_model(self, request: HttpRequest, obj: Bank) -> None:
        services.delete_bank(obj)  # cancels its active operations first

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Bank]) -> None:
        for bank in queryset:
            services.delete_bank(bank)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """Counts instead of Django's list of every related row (a bank may hold millions)."""
        banks = list(objs)
        stats = services.bank_stats([bank.pk for bank in banks])
        summary = [
            f"{bank.bank_id}: {stats[bank.pk]['memory_count']:,} memories and "
            f"{sum(stats[bank.pk]['operations'].values()):,} operations "
            "(active ones are cancelled first)"
            for bank in banks
        ]
        model_count = {
            "banks": len(banks),
            "memories": sum(s["memory_count"] for s in stats.values()),
            "operations": sum(sum(s["operations"].values()) for s in stats.values()),
        }
        return summary, model_count, set(), []


class DocumentFilter(admin.SimpleListFilter):
    """A text box (documents are too many to list as links)."""

    title = "document id"
    parameter_name = "document_id"
    template = "admin/banks/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("", "")]  # has_output() needs one choice; the template renders a text box

    def choices(self, changelist: ChangeList) -> Any:
        # A GET form replaces the whole query string: carry the other filters as hidden inputs.
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
            "value": self.value() or "",
            "hidden": [(k, v) for k, v in changelist.params.items() if k != self.parameter_name],
        }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(document_id=value) if value else queryset


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    list_display = ("short_id", "bank", "excerpt", "document_id", "tag_list", "operation_link",
                    "created_at")
    list_display_links = ("short_id",)
    list_filter = ("bank", DocumentFilter)
    search_fields = ("content",)
    search_help_text = "Words in the memory's content."
    date_hierarchy = "created_at"
    list_select_related = ("bank",)
    list_per_page = 100
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    sortable_by = ("created_at",)
    paginator = CappedCountPaginator
    fields = ("id", "bank", "content", "context", "timestamp", "metadata", "tags", "document_id",
              "operation_link", "item_index", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Memory]:
        return with_indexed_dates(super().get_queryset(request))

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The operation page links to "memories from this operation".
        return lookup == "operation__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="ID")
    def short_id(self, memory: Memory) -> str:
        return short_id(memory.pk)

    @admin.display(description="Content")
    def excerpt(self, memory: Memory) -> str:
        text = memory.content
        return text if len(text) <= 100 else text[:99] + "…"

    @admin.display(description="Tags")
    def tag_list(self, memory: Memory) -> str:
        return ", ".join(memory.tags or [])

    @admin.display(description="Operation")
    def operation_link(self, memory: Memory) -> SafeString | str:
        if memory.operation_id is None:
            return "—"
        url = reverse("admin:operations_operation_change", args=[memory.operation_id])
        return format_html('<a href="{}">{}</a>', url, short_id(memory.operation_id))


# The API key admin has its own module; the admin's autodiscovery imports only this one.
from . import admin_apikeys  # noqa: E402, F401
