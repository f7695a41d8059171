"""JSON answers for what no view handles: a URL no route matches, and an unhandled crash.

Both API surfaces speak JSON (``{"detail": ...}`` is the error shape of both); Django's default
HTML pages here were "undocumented content types" to every client (found by schemathesis: a
``bank_id`` ending in a newline matches no route).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Never the exception text: it may quote stored values. The traceback goes to the log.
    return JsonResponse({"detail": "Internal server error."}, status=500)
