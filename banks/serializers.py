"""Native wire shapes for banks and memories. Translation only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from .models import Bank, Memory


class BankSerializer(serializers.ModelSerializer):
    """``context["stats"]`` maps bank pk -> {"memory_count", "operations"} (one query per page)."""

    memory_count = serializers.SerializerMethodField()
    operations = serializers.SerializerMethodField()

    class Meta:
        model = Bank
        fields = ["bank_id", "name", "mission", "created_at", "updated_at", "memory_count",
                  "operations"]
        read_only_fields = ["created_at", "updated_at"]

    def _stats(self, bank: Bank) -> dict[str, Any]:
        return self.context.get("stats", {}).get(bank.pk, {})

    def get_memory_count(self, bank: Bank) -> int:
        return self._stats(bank).get("memory_count", 0)

    def get_operations(self, bank: Bank) -> dict[str, int]:
        return self._stats(bank).get("operations", {})


# An envelope object, not an array: without many=False drf-spectacular documents list actions
# as arrays, and schemathesis flags every real response as a schema violation.
@extend_schema_serializer(many=False)
class BankListSerializer(serializers.Serializer):
    """The bank list envelope; documented for the schema."""

    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    banks = BankSerializer(many=True)


class BankCreateSerializer(serializers.Serializer):
    bank_id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    mission = serializers.CharField(required=False, allow_blank=True, default="")


class BankUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=256, required=False, allow_blank=True)
    mission = serializers.CharField(required=False, allow_blank=True)


class MemorySerializer(serializers.ModelSerializer):
    memory_id = serializers.UUIDField(source="id", read_only=True)
    bank_id = serializers.CharField(source="bank.bank_id", read_only=True)
    operation_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Memory
        fields = ["memory_id", "bank_id", "content", "context", "timestamp", "metadata", "tags",
                  "document_id", "operation_id", "item_index", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(many=False)
class MemoryListSerializer(serializers.Serializer):
    """The memory list envelope; documented for the schema (an upload creates banks whose
    empty lists the schema fuzzer then reads)."""

    bank_id = serializers.CharField()
    total = serializers.IntegerField(allow_null=True)
    limit = serializers.IntegerField()
    offset = serializers.IntegerField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)
    memories = MemorySerializer(many=True)


class RetainItemSerializer(serializers.Serializer):
    """Documents one item for the schema; requests are checked by ``banks.items``."""

    content = serializers.CharField()
    context = serializers.CharField(required=False, allow_null=True)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField(), required=False,
                                     allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    document_id = serializers.CharField(required=False, allow_null=True)


class ParsedJSONField(serializers.JSONField):
    """A JSON value the parser already decoded. DRF's JSONField re-encodes its input to prove it
    is JSON -- a wasted pass over a 10 MB batch; the item validator checks the shape anyway."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class _AsyncFlag:
    """``async`` is a Python keyword, so the field is added by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["async"] = serializers.BooleanField(required=False, default=False)


class RetainRequestSerializer(_AsyncFlag, serializers.Serializer):
    # Items are checked by the batch_retain job's fast validator (banks.items), not per-item
    # serializer fields: that is what keeps a 10,000-item request cheap to validate.
    contents = ParsedJSONField()
    operation_id = serializers.UUIDField(required=False, allow_null=True)


class RetainRequestDocSerializer(_AsyncFlag, serializers.Serializer):
    """The same body as ``RetainRequestSerializer``, spelled out item by item for the schema."""

    contents = RetainItemSerializer(many=True)
    operation_id = serializers.UUIDField(required=False, allow_null=True)


class RetainResultSerializer(serializers.Serializer):
    memory_ids = serializers.ListField(child=serializers.UUIDField())
    failed_items = serializers.ListField(child=serializers.DictField())


class FileRetainRequestSerializer(_AsyncFlag, serializers.Serializer):
    """``POST /api/banks/{bank_id}/files/`` (multipart). ``context``, ``tags``, ``timestamp``
    and ``metadata`` apply to every file; ``files_metadata`` (a JSON list, one object per file)
    gives a file its own ``document_id``, ``context``, ``tags``, ``timestamp``, ``metadata``.
    Field values are checked by the ``file_retain`` job, as retain items are."""

    files = serializers.ListField(child=serializers.FileField(allow_empty_file=True),
                                  allow_empty=False)
    context = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    timestamp = serializers.CharField(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True,
                                     help_text="a JSON object of string values")
    files_metadata = serializers.JSONField(required=False, allow_null=True,
                                           help_text="a JSON list, one object per file")
    operation_id = serializers.UUIDField(required=False, allow_null=True)

    def validate_files_metadata(self, value: Any) -> Any:
        if value is not None and not (
            isinstance(value, list) and all(isinstance(entry, dict) for entry in value)
        ):
            raise serializers.ValidationError("Must be a JSON list of objects, one per file.")
        return value

    def file_options(self) -> list[dict[str, Any]]:
        """One options dict per file: the common fields, overridden by ``files_metadata``."""
        data = self.validated_data
        common = {key: data.get(key) for key in ("context", "tags", "timestamp", "metadata")}
        per_file = data.get("files_metadata") or [{} for _ in data["files"]]
        return [{**common, **{k: v for k, v in entry.items() if v is not None}}
                for entry in per_file]
