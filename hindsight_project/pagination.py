"""List pagination: limit/offset with a total, or an opaque keyset cursor -- never both.

Offset mode is correct at any depth but counts and skips rows; cursor mode seeks on
``(created_at, id)`` with the composite indexes, so page 10,000 costs what page 1 costs, and
reports ``total``/``offset`` as null because counting is exactly what it avoids. Cursors are
signed and bound to the list they came from (a bank, or a caller's cross-bank view), so a cursor
cannot be forged or replayed against another list.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from operations.reads import PageRequest, total_without_count

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_SALT = "hindsight.pagination.cursor"


@dataclass
class Page:
    rows: list[Any]
    limit: int
    offset: int | None
    total: int | None
    next_cursor: str | None


def _parse_int(request: Request | HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: ["A valid integer is required."]}) from None


def parse_limit(request: Request | HttpRequest, default: int = DEFAULT_LIMIT,
                maximum: int = MAX_LIMIT) -> int:
    limit = _parse_int(request, "limit", default)
    if limit < 1:
        raise ValidationError({"limit": ["Ensure this value is greater than or equal to 1."]})
    return min(limit, maximum)  # larger values are capped, as documented


MAX_OFFSET = 10**12  # beyond any real table; keeps the value inside a 64-bit SQL integer


def parse_offset(request: Request | HttpRequest) -> int:
    offset = _parse_int(request, "offset", 0)
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationError(
            {"offset": [f"Ensure this value is between 0 and {MAX_OFFSET}."]}
        )
    return offset


def encode_cursor(created_at: datetime, pk: uuid.UUID, scope: str) -> str:
    """The cursor of the rows after the one at ``(created_at, pk)`` in the list ``scope``."""
    return _signed_cursor(created_at, pk, scope, settings.SECRET_KEY)


@functools.lru_cache(maxsize=4096)
def _signed_cursor(created_at: datetime, pk: uuid.UUID, scope: str, key: str) -> str:
    # Minted once per position: a list polled while nothing changes hands out the same next
    # cursor on every poll (a cursor does not expire, so its time stamp does not matter).
    return signing.dumps({"t": created_at.isoformat(), "i": str(pk), "s": scope}, key=key,
                         salt=_SALT, compress=True)


def cursor_after(position: tuple[datetime, uuid.UUID] | None, scope: str) -> str | None:
    """The next page's cursor: after ``position`` (the last row's), None when no page follows."""
    return encode_cursor(*position, scope) if position else None


def decode_cursor(raw: str, scope: str) -> tuple[datetime, uuid.UUID]:
    """Raise ``ValidationError`` for anything but a cursor this service minted for ``scope``."""
    try:
        data = signing.loads(raw, salt=_SALT)
        if not isinstance(data, dict) or data.get("s") != scope:
            raise ValueError("cursor belongs to another list")
        return datetime.fromisoformat(data["t"]), uuid.UUID(data["i"])
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        raise ValidationError({"cursor": ["Invalid or expired cursor for this list."]}) from None


def parse_page(request: Request | HttpRequest, scope: str) -> PageRequest:
    """The page a list request asks for: ``limit`` and ``offset``, or a ``cursor`` minted for
    ``scope`` (never both); ``ValidationError`` for anything else."""
    limit = parse_limit(request)
    cursor = request.GET.get("cursor")
    if cursor:
        if request.GET.get("offset") not in (None, ""):
            raise ValidationError({"cursor": ["cursor cannot be combined with offset."]})
        return PageRequest(limit=limit, offset=None, before=decode_cursor(cursor, scope))
    return PageRequest(limit=limit, offset=parse_offset(request))


def paginate_newest_first(queryset: QuerySet, request: Request, scope: str) -> Page:
    """Page ``queryset`` ordered by ``(-created_at, -id)``."""
    queryset = queryset.order_by("-created_at", "-id")
    page = parse_page(request, scope)
    if page.before is not None:
        created_at, pk = page.before
        # "Before (created_at, id)" written as a range on created_at plus an exclusion, not as
        # an OR: SQLite uses an OR's index for neither side, and walked the whole bank from its
        # newest row to the cursor (1 s per page at 1,000,000 operations).
        queryset = queryset.filter(created_at__lte=created_at).exclude(
            created_at=created_at, pk__gte=pk
        )
        rows = list(queryset[: page.limit + 1])
        total = None
    else:
        offset = page.offset
        rows = list(queryset[offset : offset + page.limit + 1])
        total = total_without_count(offset, len(rows), page.limit)
        if total is None:
            total = queryset.count()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    after = (rows[-1].created_at, rows[-1].pk) if more and rows else None
    return Page(rows=rows, limit=page.limit, offset=page.offset, total=total,
                next_cursor=cursor_after(after, scope))
