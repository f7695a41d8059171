"""Content negotiation with DRF's answers, minus its parsing for the common case.

Nearly every API request accepts anything (``*/*``, or no ``Accept`` at all) or exactly the
first renderer's media type; for those DRF's negotiation parses the header and every renderer's
media type on each request, a noticeable share of a status poll. Every other request is
negotiated by DRF itself, ``406`` included."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings

JSON = "application/json"  # the first (only) renderer's media type


def accepts_json_as_is(request: HttpRequest | Request) -> bool:
    """True when DRF's negotiation would pick the JSON renderer without a word: anything or
    JSON accepted, no ``?format=``."""
    return (request.META.get("HTTP_ACCEPT", "*/*") in ("*/*", JSON)
            and api_settings.URL_FORMAT_OVERRIDE not in request.GET)


class CommonCaseNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[Any, str]:
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if renderers and not format_suffix and (
                self.settings.URL_FORMAT_OVERRIDE not in request.query_params):
            first = renderers[0]
            if accept == "*/*":
                return first, first.media_type  # what DRF picks for "anything"
            if accept == first.media_type:
                return first, accept
        return super().select_renderer(request, renderers, format_suffix)
