"""Refuse oversized bodies before anything reads them; answer 503, not 500, when the database
is unreachable on a page no API error handler covers."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .api_errors import DATABASE_ERRORS, database_unavailable_body


class BodySizeLimitMiddleware:
    """413 for a declared ``Content-Length`` over ``HINDSIGHT_MAX_BODY_BYTES``. Django's own
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (set to the same value) catches bodies without the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.HINDSIGHT_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "invalid Content-Length header"}, status=400)
        if length > limit:
            return JsonResponse(
                {"detail": f"request body of {length} bytes is over HINDSIGHT_MAX_BODY_BYTES "
                           f"({limit} bytes)", "code": "limit_exceeded",
                 "limit": "HINDSIGHT_MAX_BODY_BYTES", "max": limit},
                status=413,
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """503 + ``Retry-After`` for a database error raised by a view outside the two APIs (admin,
    the django-rq dashboard...), the API surfaces' own error handlers having answered theirs
    already (``api_errors.DATABASE_ERRORS``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        body, headers = database_unavailable_body(exception)
        return JsonResponse(body, status=503, headers=headers)
