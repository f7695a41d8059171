"""Refuse oversized bodies before anything reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


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
