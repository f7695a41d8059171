"""One concise log line per request, with a request id the client can quote back.

``X-Request-ID`` is taken from the request when it is a short printable token (a proxy or the
client set it), otherwise generated, and returned on every response. The line goes to the
``hindsight.request`` logger at INFO: ``GET /api/banks/demo/ 404 3.2ms id=…``. A client's 4xx is
the client's business, so it is no warning; only 5xx (which an operator must look at) is logged
at ERROR. Django's own ``django.request`` logger, which repeats every 4xx as a WARNING without
the id, is kept to errors in settings.LOGGING.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("hindsight.request")

HEADER = "X-Request-ID"
# Accepted as given: what a proxy or tracing system would send; anything else is replaced so
# that a client cannot inject text into the log.
VALID_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


def request_id_of(request: HttpRequest) -> str:
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if VALID_ID.match(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_of(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[HEADER] = request_id
        millis = (time.perf_counter() - started) * 1000
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        logger.log(level, "%s %s %s %.1fms id=%s", request.method, request.path,
                   response.status_code, millis, request_id)
        return response
