"""Which banks a request may see. Every bank lookup of every surface goes through here, so a key
scoped to some banks can never reach another bank's data: unknown and invisible banks are the
same 404.

``request`` is anything with the ``auth`` of an authenticated request (a DRF request, whose
``auth`` is ``hindsight_project.auth.Principal`` or None), or None for operators (shell, admin),
who see every bank."""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import QuerySet

from .models import Bank
from .services import get_bank


class Caller(Protocol):
    auth: Any


def _scope(request: Caller | None) -> frozenset[str] | None:
    return getattr(request.auth, "bank_scope", None) if request is not None else None


def bank_scope(request: Caller | None) -> frozenset[str] | None:
    """The bank ids the caller may see, or None for all banks."""
    return _scope(request)


def visible_banks(request: Caller | None) -> QuerySet[Bank]:
    """Banks the caller may see: all of them, unless the authenticated key is bank-scoped."""
    banks = Bank.objects.all()
    scope = _scope(request)
    if scope is not None:
        banks = banks.filter(bank_id__in=scope)
    return banks


def visible_bank(request: Caller | None, bank_id: str) -> Bank:
    """The bank if the caller may see it, else ``BankNotFound`` (404, never 403)."""
    return get_bank(bank_id, visible_banks(request))


def may_create_bank(request: Caller | None, bank_id: str) -> bool:
    scope = _scope(request)
    return scope is None or bank_id in scope
