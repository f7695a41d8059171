"""Routes of the native webhook endpoints, mounted under ``/api/`` (docs/api.md 3.3)."""

from __future__ import annotations

from django.urls import path

from . import webhook_views as views

HOOKS = "banks/<str:bank_id>/webhooks/"
HOOK = f"{HOOKS}<str:webhook_id>/"

urlpatterns = [
    path(HOOKS, views.WebhookListView.as_view(), name="api-webhooks"),
    path(HOOK, views.WebhookDetailView.as_view(), name="api-webhook-detail"),
    path(f"{HOOK}ping/", views.WebhookPingView.as_view(), name="api-webhook-ping"),
    path(f"{HOOK}deliveries/", views.DeliveryListView.as_view(), name="api-webhook-deliveries"),
    path(f"{HOOK}deliveries/<str:delivery_id>/redeliver/", views.RedeliverView.as_view(),
         name="api-webhook-redeliver"),
]
