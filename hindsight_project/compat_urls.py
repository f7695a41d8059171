"""Routes of the Hindsight-compatible surface, mounted at ``/v1/default/`` (API.md §2).

No trailing slashes. A ``bank_id`` may contain ``/`` (the client sends it as ``%2F``, which
arrives decoded), so it uses the ``path`` converter; the more specific routes come first, which
makes a bank id ending in one of the sub-resource names (``x/stats``) address that sub-resource.
"""

from __future__ import annotations

from django.urls import path

from banks import compat_views as banks
from operations import compat_views as operations

OPERATION = "banks/<path:bank_id>/operations/<str:operation_id>"

urlpatterns = [
    path("banks", banks.BankListView.as_view(), name="compat-banks"),
    path(f"{OPERATION}/retry", operations.OperationRetryView.as_view(),
         name="compat-operation-retry"),
    path(f"{OPERATION}/delete", operations.OperationDeleteView.as_view(),
         name="compat-operation-delete"),
    path(OPERATION, operations.OperationDetailView.as_view(), name="compat-operation"),
    path("banks/<path:bank_id>/operations", operations.OperationListView.as_view(),
         name="compat-operations"),
    path("banks/<path:bank_id>/memories/recall", banks.RecallView.as_view(),
         name="compat-recall"),
    path("banks/<path:bank_id>/memories/list", banks.MemoryListView.as_view(),
         name="compat-memories-list"),
    path("banks/<path:bank_id>/memories", banks.RetainView.as_view(), name="compat-retain"),
    path("banks/<path:bank_id>/stats", banks.BankStatsView.as_view(), name="compat-stats"),
    path("banks/<path:bank_id>", banks.BankDetailView.as_view(), name="compat-bank"),
]
