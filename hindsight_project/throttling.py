"""Per-key request throttling (DRF throttles; 429 with ``Retry-After``): at most the rate's
count per fixed window of its period (so up to twice the count across a window boundary).

Counters live in Django's cache, i.e. per API process: the embedded default runs one process, so
the configured rate is the real rate; behind N API processes it is up to N times the rate.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .auth import Principal

DECISION = "hindsight_throttle_decision"  # (allowed, now, window end), set on the request


class ApiKeyRateThrottle(SimpleRateThrottle):
    """``HINDSIGHT_THROTTLE_RATE`` per API key; ``HINDSIGHT_ANON_THROTTLE_RATE`` per client
    address for requests without a key (open mode). An empty rate disables that throttle."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        return None  # chosen in allow_request, where the request (keyed or not) is known

    def allow_request(self, request: Request, view: object) -> bool:
        # Counted already when the request was first admitted outside DRF (``admission``) and
        # then handed to DRF: the same decision, not a second count.
        decided = getattr(request, DECISION, None)
        if decided is not None:
            allowed, self.now, self.window_end = decided
            return allowed
        # Settings are read per request (throttles are instantiated per request), so overrides
        # in tests and a changed environment apply without a restart of this class.
        if isinstance(request.auth, Principal):
            rate = settings.HINDSIGHT_THROTTLE_RATE
        else:
            rate = settings.HINDSIGHT_ANON_THROTTLE_RATE
        if not rate:
            return True
        self.num_requests, self.duration = self.parse_rate(rate)
        # A counter per fixed window, not DRF's log of every request's time: that list (up to
        # the rate's count, 20,000 by default) was copied in and out of the cache on every
        # request, so the busier a client, the more each of its requests cost.
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = f"{self.get_cache_key(request, view)}:{window}"
        try:
            count = self.cache.incr(key)  # the window's counter exists but for its first request
        except ValueError:
            # A new window: its first request (of concurrent first requests, one adds the
            # counter, the others count on it).
            count = 1 if self.cache.add(key, 1, self.duration + 1) else self.cache.incr(key)
        allowed = count <= self.num_requests
        setattr(request, DECISION, (allowed, self.now, self.window_end))
        return allowed

    def wait(self) -> float:
        return max(0.001, self.window_end - self.now)

    def get_cache_key(self, request: Request, view: object) -> str:
        if isinstance(request.auth, Principal):
            ident = f"key:{request.auth.key.prefix}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
