"""The base view of the Hindsight-compatible surface and its request-body check. Query strings
are parsed by the serializers of ``compat.queries``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from .errors import exception_handler


class CompatAPIView(APIView):
    """Base of every ``/v1/default/`` view: errors in this surface's shapes
    (``compat.errors``). Authentication and permissions are the project defaults, exactly as on
    the native API; bank visibility goes through ``banks.access``."""

    def get_exception_handler(self) -> Callable[[Exception, dict], Response | None]:
        return exception_handler


def validated_body(serializer: Serializer) -> dict[str, Any]:
    """The serializer's data, or a 422 locating each error in ``body`` (explicitly: a body field
    may be called ``query``, which must not read as the query string)."""
    if not serializer.is_valid():
        raise ValidationError({"body": serializer.errors})
    return serializer.validated_data
