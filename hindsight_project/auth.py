"""API-key authentication for every DRF view (both API surfaces).

Clients send ``Authorization: Bearer <key>`` (what the official ``hindsight-client`` sends). A
valid key makes ``request.auth`` a ``Principal`` whose ``bank_scope`` ``banks.access`` applies to
every bank lookup and whose ``cursor_scope`` binds cross-bank cursors. Keys are required as soon
as one active key exists, or always with ``HINDSIGHT_REQUIRE_AUTH=1``; with neither, the service
is open (the zero-config quick start on loopback) and ``request.auth`` is None, meaning all banks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from banks.apikeys import ApiKey, any_active_key, split_key, verify_key

logger = logging.getLogger(__name__)
KEYWORD = "Bearer"
REJECTION_LOGGED = "hindsight_rejection_logged"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key row, the banks it may see (None = all) and the cursor scope."""

    key: ApiKey
    bank_scope: frozenset[str] | None
    cursor_scope: str

    @classmethod
    def for_key(cls, key: ApiKey) -> Principal:
        scope = key.bank_scope
        # All-bank keys see the same cross-bank list, so their cursors may be shared; a scoped
        # key's cursors are bound to that key and fail (400) anywhere else.
        return cls(key=key, bank_scope=scope,
                   cursor_scope="all" if scope is None else f"key:{key.prefix}")


def auth_required() -> bool:
    return settings.HINDSIGHT_REQUIRE_AUTH or any_active_key()


class ApiKeyAuthentication(BaseAuthentication):
    """Bearer API keys. A malformed, unknown or revoked key is always 401, even when the
    service is open: a client that sends a key expects it to be checked."""

    def authenticate(self, request: Request) -> tuple[None, Principal] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Invalid Authorization header: expected 'Bearer <key>'.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid API key.") from None
        row = verify_key(key)
        if row is None:
            # Once per request, though a plain read's admission (``admission``) asks first. The
            # prefix identifies a key without revealing it; the rest is never logged.
            if not getattr(request, REJECTION_LOGGED, False):
                logger.warning("rejected API key (prefix %s)", split_key(key) or "malformed")
                setattr(request, REJECTION_LOGGED, True)
            raise AuthenticationFailed("Invalid or revoked API key.")
        return None, Principal.for_key(row)

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) with ``WWW-Authenticate: Bearer`` when a key is missing.
        return KEYWORD


class ApiKeyRequired(BasePermission):
    """Lets a request in when it carries a valid key, or when authentication is not required."""

    message = "Authentication required: send 'Authorization: Bearer <api key>'."

    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, Principal) or not auth_required()


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the Bearer scheme in ``/api/schema/`` (Swagger UI's "Authorize" button)."""

    target_class = "hindsight_project.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer",
                "description": "API key: `Authorization: Bearer hs_<prefix>_<secret>`."}
