"""Routes of the Hindsight-compatible surface, mounted at ``/v1/default/`` (docs/api.md 2).

No trailing slashes. A ``bank_id`` may contain ``/`` (the client sends it as ``%2F``, which
arrives decoded), so it uses the ``bank_id`` converter, which takes any characters; the more
specific routes come first, which makes a bank id ending in one of the sub-resource names
(``x/stats``) address that sub-resource.
"""

from __future__ import annotations

from django.urls import path, register_converter

from . import bank_views as banks
from . import file_views as files
from . import operation_views as operations
from . import webhook_views as webhooks


class BankIdConverter:
    """Like ``path`` (``/`` allowed) but also newlines: an unknown odd id must reach the view and
    get this surface's JSON 404, not Django's HTML one."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(BankIdConverter, "bank_id")

OPERATION = "banks/<bank_id:bank_id>/operations/<str:operation_id>"

WEBHOOK = "banks/<bank_id:bank_id>/webhooks/<str:webhook_id>"

urlpatterns = [
    path("banks", banks.BankListView.as_view(), name="compat-banks"),
    # Webhooks (issue 14; docs/api.md 3.4).
    path(f"{WEBHOOK}/deliveries", webhooks.CompatWebhookDeliveriesView.as_view(),
         name="compat-webhook-deliveries"),
    path(WEBHOOK, webhooks.CompatWebhookDetailView.as_view(), name="compat-webhook"),
    path("banks/<bank_id:bank_id>/webhooks", webhooks.CompatWebhookListView.as_view(),
         name="compat-webhooks"),
    path(f"{OPERATION}/retry", operations.OperationRetryView.as_view(),
         name="compat-operation-retry"),
    path(f"{OPERATION}/delete", operations.OperationDeleteView.as_view(),
         name="compat-operation-delete"),
    path(OPERATION, operations.OperationDetailView.as_view(), name="compat-operation"),
    path("banks/<bank_id:bank_id>/operations", operations.OperationListView.as_view(),
         name="compat-operations"),
    path("banks/<bank_id:bank_id>/consolidate", operations.ConsolidateView.as_view(),
         name="compat-consolidate"),
    path("banks/<bank_id:bank_id>/memories/recall", banks.RecallView.as_view(),
         name="compat-recall"),
    path("banks/<bank_id:bank_id>/memories/list", banks.MemoryListView.as_view(),
         name="compat-memories-list"),
    path("banks/<bank_id:bank_id>/memories", banks.RetainView.as_view(), name="compat-retain"),
    path("banks/<bank_id:bank_id>/files/retain", files.FileRetainView.as_view(),
         name="compat-files-retain"),
    path("banks/<bank_id:bank_id>/stats", banks.BankStatsView.as_view(), name="compat-stats"),
    path("banks/<bank_id:bank_id>", banks.BankDetailView.as_view(), name="compat-bank"),
]
