"""Mounts the native API (/api/), the compatible API (/v1/default/), admin, schema and docs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from operations.metrics import metrics_view

from . import health

urlpatterns = [
    path("api/", include("banks.urls")),
    path("api/", include("operations.urls")),
    path("api/", include("operations.webhook_urls")),  # webhooks (issue 14)
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("version", health.version, name="version"),
    path("v1/version", health.version, name="v1-version"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    # Hindsight-compatible API (docs/api.md 2), for the official hindsight-client.
    path("v1/default/", include("hindsight_project.compat.urls")),
]

# --- Scale-out: django-rq's queue/worker dashboard, staff only (its views require staff) -------
urlpatterns += [path("django-rq/", include("django_rq.urls"))]

# Security (issue 9): JSON, not Django's HTML pages, for unmatched URLs and crashes.
handler404 = "hindsight_project.http_errors.not_found"
handler500 = "hindsight_project.http_errors.server_error"
