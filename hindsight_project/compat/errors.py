"""The error shapes of the Hindsight-compatible surface (docs/api.md): ``{"detail": "<message>"}``
for domain errors, and body, query or path validation errors as 422
``{"detail": [{"type", "loc", "msg"}]}`` the way the upstream (pydantic) server reports them.
Every view of this package uses ``exception_handler`` (``CompatAPIView``); the HTTP status of
each domain exception is the native API's (``hindsight_project.api_errors``) except where this
surface's contract differs (a malformed operation id is 400 here)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from rest_framework import status as http
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hindsight_project.api_errors import (
    DATABASE_ERRORS,
    database_unavailable_body,
    http_status_for,
    too_many_files_body,
)
from operations.exceptions import (
    HindsightError,
    IdempotencyConflict,
    InvalidInput,
    InvalidOperationId,
    InvalidTransition,
)

from .vocabulary import transition_message

# Path parameters of the compatible routes: errors about them are located in "path".
_PATH_PARAMS = frozenset({"bank_id", "operation_id"})
_LOCATIONS = frozenset({"body", "query", "path"})
# DRF error codes -> the pydantic error types the upstream server reports.
_ERROR_TYPES = {
    "required": "missing",
    "null": "missing",
    "max_value": "less_than_equal",
    "min_value": "greater_than_equal",
}


def _error_type(detail: Any) -> str:
    code = getattr(detail, "code", None) or "value_error"
    return _ERROR_TYPES.get(code, code if code != "invalid" else "value_error")


def _entry(detail: Any, loc: tuple) -> dict[str, Any]:
    kind = _error_type(detail)
    message = "Field required" if kind == "missing" else str(detail)
    return {"type": kind, "loc": list(loc or ("body",)), "msg": message}


def validation_entries(detail: Any, loc: tuple = ()) -> list[dict[str, Any]]:
    """Flatten DRF's nested error detail into upstream ``{"type", "loc", "msg"}`` entries."""
    if isinstance(detail, dict):
        entries = []
        for key, value in detail.items():
            if not loc and key not in _LOCATIONS:
                where = ("path", key) if key in _PATH_PARAMS else ("body", key)
                where = ("body",) if key == "non_field_errors" else where
            elif key == "non_field_errors":
                where = loc  # about the object itself
            else:
                where = (*loc, int(key) if str(key).isdigit() else key)
            entries.extend(validation_entries(value, where))
        return entries
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [_entry(item, loc) for item in detail]
        entries = []
        for index, item in enumerate(detail):
            entries.extend(validation_entries(item, (*loc, index)))
        return entries
    return [_entry(detail, loc)]


def compat_message(exc: HindsightError) -> str:
    if isinstance(exc, InvalidOperationId):
        return f"Invalid operation_id format: {exc.raw}"
    if isinstance(exc, InvalidTransition):
        return transition_message(exc.operation_id, exc.action, exc.status)
    if isinstance(exc, IdempotencyConflict):
        return f"operation_id {exc.operation_id} is already in use"
    return str(exc)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, InvalidInput):
        exc = ValidationError(exc.errors)
    if isinstance(exc, InvalidOperationId):
        return Response({"detail": compat_message(exc)}, status=http.HTTP_400_BAD_REQUEST)
    if isinstance(exc, HindsightError):
        return Response({"detail": compat_message(exc)}, status=http_status_for(exc))
    if isinstance(exc, DATABASE_ERRORS):
        body, headers = database_unavailable_body(exc)
        return Response(body, status=http.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": f"request body is over the limit: {exc}"},
                        status=http.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFilesSent):
        return Response({"detail": too_many_files_body()["detail"]},
                        status=http.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, ValidationError):
        return Response({"detail": validation_entries(exc.detail)},
                        status=http.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, ParseError):
        entry = {"type": "json_invalid", "loc": ["body", 0], "msg": f"JSON decode error: {exc}"}
        return Response({"detail": [entry]}, status=http.HTTP_422_UNPROCESSABLE_ENTITY)
    # 401/403/404/405 and the rest: DRF's own {"detail": "..."} is already the upstream shape.
    return drf_exception_handler(exc, context)
