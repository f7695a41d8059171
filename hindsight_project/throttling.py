"""Per-key request throttling (DRF throttles; 429 with ``Retry-After``).

Counters live in Django's cache, i.e. per API process: the embedded default runs one process, so
the configured rate is the real rate; behind N API processes it is up to N times the rate.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .auth import Principal


class ApiKeyRateThrottle(SimpleRateThrottle):
    """``HINDSIGHT_THROTTLE_RATE`` per API key; ``HINDSIGHT_ANON_THROTTLE_RATE`` per client
    address for requests without a key (open mode). An empty rate disables that throttle."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        return None  # chosen in allow_request, where the request (keyed or not) is known

    def allow_request(self, request: Request, view: object) -> bool:
        # Settings are read per request (throttles are instantiated per request), so overrides
        # in tests and a changed environment apply without a restart of this class.
        if isinstance(request.auth, Principal):
            self.rate = settings.HINDSIGHT_THROTTLE_RATE
        else:
            self.rate = settings.HINDSIGHT_ANON_THROTTLE_RATE
        self.rate = self.rate or None  # None is DRF's "no limit"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: object) -> str:
        if isinstance(request.auth, Principal):
            ident = f"key:{request.auth.key.prefix}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
