"""``/health``, ``/health/live`` and ``/version``: shared by both API surfaces."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from operations import presence
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


def _database_error() -> str | None:
    """None if the database answers, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return None if cursor.fetchone() == (1,) else "SELECT 1 returned something else"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()


def health(request: HttpRequest) -> JsonResponse:
    """200 when the database and the executor (RQ: Redis) answer, else 503 with the reasons.
    In scale-out it also says what the workers reported to the database -- alive, and how many
    are waiting for Redis -- which stays known while Redis is down."""
    database_error = _database_error()
    try:
        executor = get_executor().health()
    except Exception as exc:
        executor = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    reasons = []
    if database_error is not None:
        reasons.append(f"database unavailable: {database_error}")
    if executor.get("status") != "ok":
        what = "redis" if executor.get("type") == "rq" else "executor"
        reasons.append(f"{what} unavailable: {executor.get('error', 'not ok')}")
    body = {
        "status": "unhealthy" if reasons else "healthy",
        "database": "connected" if database_error is None else "unavailable",
        "executor": executor,
        "version": settings.HINDSIGHT_VERSION,
    }
    if settings.HINDSIGHT_EXECUTOR == "rq" and database_error is None:
        try:
            body["workers"] = presence.workers_state().as_dict()
        except Exception as exc:  # the database went away between the two queries
            reasons.append(f"database unavailable: {type(exc).__name__}: {exc}")
    if reasons:
        body["reason"] = "; ".join(reasons)
    return JsonResponse(body, status=503 if reasons else 200)


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "status": "alive",
        "version": settings.HINDSIGHT_VERSION,
        "uptime_seconds": round(time.monotonic() - STARTED, 3),
    })


def version(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"api_version": settings.HINDSIGHT_VERSION, "features": FEATURES})
