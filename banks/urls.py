from __future__ import annotations

from django.urls import path

from .views import BankViewSet, MemoryViewSet

urlpatterns = [
    path("banks/", BankViewSet.as_view({"get": "list", "post": "create"}), name="api-banks"),
    path("banks/<str:bank_id>/",
         BankViewSet.as_view({"get": "retrieve", "patch": "partial_update",
                              "delete": "destroy"}),
         name="api-bank-detail"),
    path("banks/<str:bank_id>/memories/",
         MemoryViewSet.as_view({"get": "list", "post": "create"}), name="api-memories"),
]
