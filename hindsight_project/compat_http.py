"""HTTP plumbing shared by the views of the Hindsight-compatible surface (API.md §2.1): their
base view and query-string parsing.

Bad query values raise DRF ``ValidationError({"query": {name: [...]}})``; the one exception
handler renders that as the upstream 422 body with ``loc: ["query", name]``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
# Larger integers overflow the database's 64-bit LIMIT/OFFSET (a 500 on SQLite): 422 instead.
QUERY_INT_MAX = 2**62


class CompatAPIView(APIView):
    """Base of every ``/v1/default/`` view. ``error_style`` makes ``api_errors`` answer in this
    surface's error shapes. Authentication and permissions are the project defaults, exactly as
    on the native API; bank visibility goes through ``banks.access``."""

    error_style = "compat"


def query_error(name: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({"query": {name: [ErrorDetail(message, code=code)]}})


def query_int(
    request: Request,
    name: str,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise query_error(name, "Input should be a valid integer", "int_parsing") from None
    if minimum is not None and value < minimum:
        raise query_error(name, f"Input should be greater than or equal to {minimum}",
                          "greater_than_equal")
    maximum = QUERY_INT_MAX if maximum is None else min(maximum, QUERY_INT_MAX)
    if value > maximum:
        raise query_error(name, f"Input should be less than or equal to {maximum}",
                          "less_than_equal")
    return value


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise query_error(name, "Input should be a valid boolean", "bool_parsing")


def query_str(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    return raw if raw not in (None, "") else None


def query_list(request: Request, name: str) -> list[str]:
    """Repeated parameters (``?tags=a&tags=b``), empty values dropped."""
    return [value for value in request.query_params.getlist(name) if value != ""]


def validated_body(serializer: Serializer) -> dict[str, Any]:
    """The serializer's data, or a 422 locating each error in ``body`` (explicitly: a body field
    may be called ``query``, which must not read as the query string)."""
    if not serializer.is_valid():
        raise ValidationError({"body": serializer.errors})
    return serializer.validated_data
