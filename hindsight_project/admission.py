"""The hot reads answered from plain Django -- the status poll, its conditional GET, the common
list query -- after the same checks DRF makes: DRF's request and response machinery was most of
what such a read cost.

``PlainReads.dispatch`` runs the view's own authentication, permission and throttle classes on
the plain request and lets ``plain_get`` answer. Anything else -- a refused key, a missing one,
a throttled client, an ``Accept`` that needs negotiating, and whatever ``plain_get`` declines
(an unknown bank or operation, a parameter to report) -- goes through DRF's dispatch, whose
handlers give the usual errors. Each check remembers its outcome on the request (the throttle
its count, the authentication its rejection log), so nothing happens twice on that path."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import APIException

from operations.exceptions import HindsightError

from .negotiation import accepts_json_as_is


class PlainReads:
    """Mixed into a DRF view: ``plain_get`` answers an admitted GET, or returns None to leave
    it to the view's DRF handler. Its responses get the headers DRF adds (``Allow``)."""

    def plain_get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse | None:
        return None

    def admitted(self, request: HttpRequest) -> bool:
        """Authenticate, permit and throttle as DRF would; ``request.auth`` set on success."""
        request.auth = None  # what banks.access reads, as on a DRF request
        for authenticator in self.get_authenticators():
            try:
                result = authenticator.authenticate(request)
            except APIException:
                return False
            if result is not None:
                request.auth = result[1]
                break
        return (all(p.has_permission(request, self) for p in self.get_permissions())
                and all(t.allow_request(request, self) for t in self.get_throttles()))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET" and accepts_json_as_is(request) and self.admitted(request):
            try:
                response = self.plain_get(request, **kwargs)
            except (APIException, HindsightError):
                response = None  # DRF's handler renders it, in the surface's shape
            if response is not None:
                for name, value in self.default_response_headers.items():
                    response[name] = value
                return response
        return super().dispatch(request, *args, **kwargs)
