from __future__ import annotations

from django.urls import path

from .engine_views import EntityViewSet, RecallView
from .views import BankViewSet, FileRetainView, MemoryViewSet

urlpatterns = [
    path("banks/", BankViewSet.as_view({"get": "list", "post": "create"}), name="api-banks"),
    path("banks/<str:bank_id>/",
         BankViewSet.as_view({"get": "retrieve", "patch": "partial_update",
                              "delete": "destroy"}),
         name="api-bank-detail"),
    path("banks/<str:bank_id>/memories/",
         MemoryViewSet.as_view({"get": "list", "post": "create"}), name="api-memories"),
    path("banks/<str:bank_id>/files/", FileRetainView.as_view(), name="api-files"),
    # Memory engine (issue 6): recall and entities.
    path("banks/<str:bank_id>/memories/recall/", RecallView.as_view(), name="api-recall"),
    path("banks/<str:bank_id>/entities/", EntityViewSet.as_view({"get": "list"}),
         name="api-entities"),
    path("banks/<str:bank_id>/entities/<str:entity_id>/",
         EntityViewSet.as_view({"get": "retrieve"}), name="api-entity-detail"),
]
