"""A stand-in for the API-key authentication of the security work (issue 9), used only to prove
that the compatible views go through DRF authentication and ``banks.access``: they must honour
whatever ``request.auth.bank_scope`` the project's authentication sets. Real keys are tested
with the real authentication class in ``tests/security``."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

KEYS = {"key-alpha": frozenset({"alpha"}), "key-all": None}


@dataclass(frozen=True)
class ScopedKey:
    bank_scope: frozenset[str] | None
    cursor_scope: str = "test"


class ScopedKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        token = header.removeprefix("Bearer ")
        if token not in KEYS:
            raise AuthenticationFailed("Invalid API key")
        return (None, ScopedKey(KEYS[token]))

    def authenticate_header(self, request) -> str:
        return "Bearer"


class KeyRequired(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.auth is not None
