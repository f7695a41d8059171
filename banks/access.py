"""Which banks a request may see. Every bank lookup of every surface goes through here, so a key
scoped to some banks can never reach another bank's data: unknown and invisible banks are the
same 404."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.request import Request

from .models import Bank
from .services import get_bank


def visible_banks(request: Request) -> QuerySet[Bank]:
    """Banks the caller may see: all of them, unless the authenticated key is bank-scoped."""
    banks = Bank.objects.all()
    scope = getattr(request.auth, "bank_scope", None) if request is not None else None
    if scope is not None:
        banks = banks.filter(bank_id__in=scope)
    return banks


def visible_bank(request: Request, bank_id: str) -> Bank:
    """The bank if the caller may see it, else ``BankNotFound`` (404, never 403)."""
    return get_bank(bank_id, visible_banks(request))


def may_create_bank(request: Request, bank_id: str) -> bool:
    scope = getattr(request.auth, "bank_scope", None) if request is not None else None
    return scope is None or bank_id in scope
