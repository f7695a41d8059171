from __future__ import annotations

from django.urls import path

from .views import BankOperationViewSet, OperationViewSet

bank_ops = BankOperationViewSet.as_view
BANK = "banks/<str:bank_id>/operations/"

urlpatterns = [
    path("operations/", OperationViewSet.as_view({"get": "list"}), name="api-operations"),
    path(BANK, bank_ops({"get": "list", "post": "create"}), name="api-bank-operations"),
    path(f"{BANK}cancel/", bank_ops({"post": "bulk_cancel"}), name="api-operations-bulk-cancel"),
    path(f"{BANK}<str:operation_id>/", bank_ops({"get": "retrieve", "delete": "destroy"}),
         name="api-operation-detail"),
    path(f"{BANK}<str:operation_id>/cancel/", bank_ops({"post": "cancel"}),
         name="api-operation-cancel"),
    path(f"{BANK}<str:operation_id>/retry/", bank_ops({"post": "retry"}),
         name="api-operation-retry"),
]
