"""Query strings of the Hindsight-compatible list and status endpoints, as DRF serializers.

``validated_query`` runs one against ``request.query_params``; errors are 422 entries located in
``query`` with the upstream (pydantic) wording and types (``int_parsing``, ``bool_parsing``,
``greater_than_equal``...). Empty values count as absent, as upstream treats them. The same
serializers document the parameters in the OpenAPI schema (``extend_schema(parameters=[...])``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from .vocabulary import STATUS_FROM_COMPAT, TYPE_FROM_COMPAT, UPSTREAM_ONLY_TYPES

# Larger integers overflow the database's 64-bit LIMIT/OFFSET (a 500 on SQLite): 422 instead.
QUERY_INT_MAX = 2**62
MAX_PAGE = 1000  # larger bank and memory page sizes are capped, as on the native API
# Upstream's non-strict modes also admit untagged memories; here an untagged memory never
# matches a tag filter (the strict meaning), and "exact" is approximated by "all".
TAGS_MATCH = {"any": "any", "any_strict": "any", "all": "all", "all_strict": "all",
              "exact": "all"}


class QueryInteger(serializers.IntegerField):
    default_error_messages = {
        "int_parsing": "Input should be a valid integer",
        "greater_than_equal": "Input should be greater than or equal to {min_value}",
        "less_than_equal": "Input should be less than or equal to {max_value}",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", QUERY_INT_MAX)
        super().__init__(**kwargs)
        self.validators = []  # bounds are checked below, with upstream's codes

    def to_internal_value(self, data: Any) -> int:
        try:
            value = int(str(data))
        except ValueError:
            self.fail("int_parsing")
        if self.min_value is not None and value < self.min_value:
            self.fail("greater_than_equal", min_value=self.min_value)
        if value > self.max_value:
            self.fail("less_than_equal", max_value=self.max_value)
        return value


class QueryBoolean(serializers.BooleanField):
    default_error_messages = {"bool_parsing": "Input should be a valid boolean"}

    WORDS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}

    def to_internal_value(self, data: Any) -> bool:
        value = self.WORDS.get(str(data).lower())
        if value is None:
            self.fail("bool_parsing")
        return value


class CommaNames(serializers.CharField):
    """``a,b`` (one parameter, comma-separated) -> ``["a", "b"]``."""

    def to_internal_value(self, data: Any) -> list[str]:
        return [part.strip() for part in super().to_internal_value(data).split(",")
                if part.strip()]


class BankListQuery(serializers.Serializer):
    q = serializers.CharField(required=False, help_text="substring of the bank id or name")
    limit = QueryInteger(default=100, min_value=0, help_text=f"default 100, capped at {MAX_PAGE}")
    offset = QueryInteger(default=0, min_value=0, help_text=">= 0")

    def validate_limit(self, value: int) -> int:
        return min(value, MAX_PAGE)


class MemoryListQuery(BankListQuery):
    q = serializers.CharField(required=False, help_text="substring of the text or context")
    document_id = serializers.CharField(required=False, help_text="only this document's memories")
    tags = serializers.ListField(child=serializers.CharField(), required=False,
                                 help_text="repeat for several")
    tags_match = serializers.CharField(
        default="any", help_text="any (default), all, any_strict, all_strict, exact")
    entity_id = serializers.CharField(required=False,
                                      help_text="only memories linked to this entity")
    type = serializers.CharField(required=False,
                                 help_text="fact type; every memory here is 'world'")
    state = serializers.CharField(required=False,
                                  help_text="valid (every memory here) or invalidated")


    def validate_tags_match(self, value: str) -> str:
        """This surface's mode -> the mode ``memories_matching`` applies."""
        if value not in TAGS_MATCH:
            raise serializers.ValidationError(f"Input should be one of {', '.join(TAGS_MATCH)}")
        return TAGS_MATCH[value]


class OperationListQuery(serializers.Serializer):
    status = CommaNames(required=False,
                        help_text="pending, processing, completed, failed or cancelled")
    type = CommaNames(required=False,
                      help_text="batch_retain (alias retain), consolidation, graph_maintenance")
    limit = QueryInteger(default=20, min_value=1, max_value=100, help_text="1-100, default 20")
    offset = QueryInteger(default=0, min_value=0, help_text=">= 0")
    exclude_parents = QueryBoolean(
        default=False, help_text="accepted; there are no parent operations here")

    def validate_status(self, names: list[str]) -> list[str]:
        """Model statuses for this surface's names; unknown names are a 422."""
        unknown = [name for name in names if name not in STATUS_FROM_COMPAT]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown status {', '.join(unknown)}; expected one of "
                f"{', '.join(STATUS_FROM_COMPAT)}")
        return [STATUS_FROM_COMPAT[name] for name in names]

    def validate_type(self, names: list[str]) -> list[str]:
        """Model types for this surface's names. Upstream-only type names match nothing;
        names neither we nor upstream know are a 422."""
        unknown = [n for n in names if n not in TYPE_FROM_COMPAT and n not in UPSTREAM_ONLY_TYPES]
        if unknown:
            expected = sorted({*TYPE_FROM_COMPAT, *UPSTREAM_ONLY_TYPES})
            raise serializers.ValidationError(
                f"Unknown operation type {', '.join(unknown)}; expected one of "
                f"{', '.join(expected)}")
        return [TYPE_FROM_COMPAT[name] for name in names if name in TYPE_FROM_COMPAT]


class OperationStatusQuery(serializers.Serializer):
    include_payload = QueryBoolean(default=False, help_text="include the submitted payload")


def validated_query(serializer_class: type[serializers.Serializer],
                    request: Request) -> dict[str, Any]:
    """The query string parsed by ``serializer_class``, or a 422 located in ``query``."""
    params = request.query_params
    data: dict[str, Any] = {}
    for name, field in serializer_class().fields.items():
        if isinstance(field, serializers.ListField):
            values = [value for value in params.getlist(name) if value != ""]
            if values:
                data[name] = values
        elif params.get(name) not in (None, ""):
            data[name] = params.get(name)
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationError({"query": serializer.errors})
    return serializer.validated_data
