"""Where domain exceptions become HTTP: the status of each exception (shared by both surfaces)
and the native API's error handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``), whose shape is
``{"detail": ..., "code": ...}`` plus the fields a client needs (e.g. the current ``status`` of
an operation that cannot make a transition). Field errors (``InvalidInput``) are DRF's 400 body:
``{"field": ["message"]}``. The Hindsight-compatible surface renders the same exceptions in its
own shapes (``hindsight_project.compat.errors``); see docs/api.md."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from rest_framework import status as http
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from banks.exceptions import BankNotFound
from operations.exceptions import (
    AmbiguousOperationId,
    ExecutorUnavailable,
    HindsightError,
    IdempotencyConflict,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    OperationNotFound,
    UnsupportedOperationType,
    WebhookNotFound,
)

logger = logging.getLogger(__name__)

# The database cannot be reached or written right now (PostgreSQL restarting, a connection cut,
# SQLite's file read-only or its disk full, its lock held past the busy timeout): nothing was
# committed, and the same request will work once it is back. Both surfaces say so with a 503.
DATABASE_UNAVAILABLE = "database unavailable, retry"
DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable_body(exc: Exception) -> tuple[dict[str, str], dict[str, str]]:
    """The body and headers of the 503 for a database error (the same on every surface); the
    error itself goes to the log, never to the client."""
    logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return ({"detail": DATABASE_UNAVAILABLE},
            {"Retry-After": str(settings.HINDSIGHT_DB_RETRY_AFTER)})


STATUS_BY_EXCEPTION: dict[type[HindsightError], int] = {
    OperationNotFound: http.HTTP_404_NOT_FOUND,
    BankNotFound: http.HTTP_404_NOT_FOUND,
    InvalidTransition: http.HTTP_409_CONFLICT,
    IdempotencyConflict: http.HTTP_409_CONFLICT,
    LimitExceeded: http.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    UnsupportedOperationType: http.HTTP_400_BAD_REQUEST,
    AmbiguousOperationId: http.HTTP_400_BAD_REQUEST,
    ExecutorUnavailable: http.HTTP_503_SERVICE_UNAVAILABLE,
    WebhookNotFound: http.HTTP_404_NOT_FOUND,
}


def error_body(exc: HindsightError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": str(exc), "code": exc.code}
    if isinstance(exc, InvalidTransition):
        body.update(status=exc.status, operation_id=exc.operation_id)
    elif isinstance(exc, LimitExceeded):
        body.update(limit=exc.limit_name, max=exc.limit)
    elif isinstance(exc, UnsupportedOperationType):
        body["type"] = [str(exc)]
    return body


def http_status_for(exc: HindsightError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_EXCEPTION:
            return STATUS_BY_EXCEPTION[cls]
    return http.HTTP_400_BAD_REQUEST


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, InvalidInput):
        return drf_exception_handler(ValidationError(exc.errors), context)
    if isinstance(exc, HindsightError):
        return Response(error_body(exc), status=http_status_for(exc))
    if isinstance(exc, DATABASE_ERRORS):
        body, headers = database_unavailable_body(exc)
        return Response(body, status=http.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": f"request body is over the limit: {exc}", "code": "limit_exceeded",
             "limit": "HINDSIGHT_MAX_BODY_BYTES"},
            status=http.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFilesSent):
        return Response(too_many_files_body(), status=http.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return drf_exception_handler(exc, context)


def too_many_files_body() -> dict[str, Any]:
    """Django stops parsing a multipart body past ``DATA_UPLOAD_MAX_NUMBER_FILES`` (set from
    ``HINDSIGHT_MAX_FILES_PER_REQUEST``): the same 413 as the files service's own check."""
    most = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return {"detail": f"more than HINDSIGHT_MAX_FILES_PER_REQUEST ({most}) files in one "
                      "request; split the upload",
            "code": "limit_exceeded", "limit": "HINDSIGHT_MAX_FILES_PER_REQUEST", "max": most}
