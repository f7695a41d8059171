"""The hot reads answered from plain Django -- the status poll, its conditional GET, the common
list query -- after the same checks DRF makes: DRF's request and response machinery was most of
what such a read cost.

``PlainReads.dispatch`` runs the view's own authentication, permission and throttle classes on
the plain request and lets ``plain_get`` answer. Anything else -- a refused key, a missing one,
a throttled client, an ``Accept`` that needs negotiating, and whatever ``plain_get`` declines
(an unknown bank or operation, a parameter to report) -- goes through DRF's dispatch, whose
handlers give the usual errors. Each check remembers its outcome on the request (the throttle
its count, the authentication its rejection log), so nothing happens twice on that path.

The plain answers of one process run one at a time (``ONE_AT_A_TIME``). Each is interpreter work
around one indexed read; run by 16 threads at once, every database call handed the interpreter
lock to another thread and back, and those hand-overs cost more than the reads themselves
(server CPU per status poll under load 1.5 -> 1.1 ms, per list page 2.4 -> 1.3 ms;
docs/benchmarks.md). The wait for a turn is bounded (``TURN_WAIT``): behind a read stalled by
an unreachable database, or by the interpreter lock held by an executor thread of the same
process (an ingest), the others run beside it instead of queueing behind the stall."""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import APIException

from operations.exceptions import HindsightError

from .negotiation import accepts_json_as_is

ONE_AT_A_TIME = threading.Lock()
TURN_WAIT = 0.1  # seconds: 16 threads' reads queue for a few ms; longer means a stalled holder


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
        if request.method == "GET" and accepts_json_as_is(request):
            response = self.plain_answer(request, kwargs)
            if response is not None:
                for name, value in self.default_response_headers.items():
                    response[name] = value
                return response
        return super().dispatch(request, *args, **kwargs)

    def plain_answer(self, request: HttpRequest, kwargs: dict) -> HttpResponse | None:
        """``plain_get``'s answer to an admitted request, in this process's turn; None: DRF's."""
        turn = ONE_AT_A_TIME.acquire(timeout=TURN_WAIT)
        try:
            if not self.admitted(request):
                return None
            try:
                return self.plain_get(request, **kwargs)
            except (APIException, HindsightError):
                return None  # DRF's handler renders it, in the surface's shape
        finally:
            if turn:
                ONE_AT_A_TIME.release()
