"""``/health``, ``/health/live`` and ``/version``: shared by both API surfaces."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from operations.executor import get_executor

STARTED = time.monotonic()

# What the compatible ``/version`` says we implement (docs/api.md 2.4): true only for real features.
FEATURES = {
    "observations": False,
    "mcp": False,
    "worker": True,
    "bank_config_api": False,
    "bank_llm_health": False,
    "file_upload_api": True,  # POST ./banks/{bank_id}/files/retain (issue 21)
    "document_export_api": False,
    "document_import_api": False,
    "audit_log": False,
    "llm_trace": False,
    "store_document_text": True,
}


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def health(request: HttpRequest) -> JsonResponse:
    database = _database_ok()
    try:
        executor = get_executor().health()
    except Exception as exc:
        executor = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    healthy = database and executor.get("status") == "ok"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "database": "connected" if database else "unavailable",
        "executor": executor,
        "version": settings.HINDSIGHT_VERSION,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "status": "alive",
        "version": settings.HINDSIGHT_VERSION,
        "uptime_seconds": round(time.monotonic() - STARTED, 3),
    })


def version(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"api_version": settings.HINDSIGHT_VERSION, "features": FEATURES})
