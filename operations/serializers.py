"""The operation object of docs/api.md 1.1 and the request bodies of the operation endpoints.
Serializers only translate: they never change state or enqueue work."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from banks.serializers import ParsedJSONField

from .exceptions import LimitExceeded
from .models import Operation
from .registry import get_job
from .states import OperationStatus, OperationType, is_terminal

BULK_CANCEL_MAX_IDS = 1000


OPERATION_FIELDS = (
    "operation_id", "bank_id", "type", "status", "progress", "total", "created_at",
    "started_at", "completed_at", "error", "result", "stage", "failed_items_count",
    "attempt", "updated_at", "retry_count", "next_retry_at", "last_error",
)


def iso(value: datetime | None) -> str | None:
    """DRF's ``DateTimeField`` output (ISO 8601, ``Z`` for UTC), without its per-field cost."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def operation_fields(operation: Operation) -> dict[str, Any]:
    """The operation object without ``result``, in one pass over the row (a status poll and
    every list row go through here; the field-by-field serializer cost 10x more)."""
    return {
        "operation_id": str(operation.pk),
        "bank_id": operation.bank.bank_id,
        "type": operation.type,
        "status": operation.status,
        "progress": operation.progress,
        "total": operation.total,
        "created_at": iso(operation.created_at),
        "started_at": iso(operation.started_at),
        "completed_at": iso(operation.completed_at),
        "error": operation.error,
        "stage": operation.stage,
        "failed_items_count": operation.failed_items_count,
        "attempt": operation.attempt,
        "updated_at": iso(operation.updated_at),
        # Scheduling (docs/api.md "Scheduling fields").
        "retry_count": operation.retries,
        "next_retry_at": next_retry_at(operation),
        "last_error": operation.last_error or None,
    }


def next_retry_at(operation: Operation) -> str | None:
    """When an automatic retry is due: only while the operation waits for it (``pending``)."""
    if operation.status != OperationStatus.PENDING or operation.next_retry_at is None:
        return None
    return iso(operation.next_retry_at)


def _dumps(data: object) -> str:
    # DRF's JSONRenderer output: compact, UTF-8 as is.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class DetailView:
    """What a detail read asked for: ``?fields=`` (top-level fields, default all) and
    ``?result=summary`` (the list rows' small result instead of the arrays)."""

    fields: tuple[str, ...] | None = None
    summary: bool = False

    @classmethod
    def from_query(cls, params: Any) -> DetailView:
        raw_fields, result = params.get("fields"), params.get("result")
        fields = None
        if raw_fields not in (None, ""):
            fields = tuple(dict.fromkeys(f.strip() for f in raw_fields.split(",") if f.strip()))
            unknown = [f for f in fields if f not in OPERATION_FIELDS]
            if unknown or not fields:
                raise serializers.ValidationError({"fields": [
                    f"Unknown field(s): {', '.join(unknown) or '(none)'}; choose from "
                    f"{', '.join(OPERATION_FIELDS)}."]})
        if result not in (None, "", "full", "summary"):
            raise serializers.ValidationError({"result": ["Must be 'full' or 'summary'."]})
        return cls(fields=fields, summary=result == "summary")

    @property
    def variant(self) -> str:
        """Tells this representation's ``ETag`` from the default one's."""
        if self.fields is None and not self.summary:
            return ""
        key = f"{','.join(self.fields or ())}|{self.summary}"
        return f"-{zlib.crc32(key.encode()):08x}"

    @property
    def full_result(self) -> bool:
        return not self.summary and (self.fields is None or "result" in self.fields)


def render_detail(operation: Operation, view: DetailView, rendering: str | None) -> bytes:
    """The detail body as JSON bytes. A terminal operation's full result is its stored
    ``rendering`` (JSON text) placed into the body as is, never parsed and re-encoded."""
    data = operation_fields(operation)
    result: Any = None
    if is_terminal(operation.status) and not view.full_result:
        result = get_job(operation.type).summary(operation)
    if view.fields is not None:
        data = {name: data[name] for name in view.fields if name != "result"}
        if "result" not in view.fields:
            return _dumps(data).encode()
    if rendering is None or not view.full_result:
        return _dumps({**data, "result": result}).encode()
    head = _dumps(data)
    joiner = "," if len(head) > 2 else ""
    return f'{head[:-1]}{joiner}"result":{rendering}}}'.encode()


def list_row(operation: Operation) -> dict[str, Any]:
    """One list row: the operation object with the small (summary) result."""
    data = operation_fields(operation)
    data["result"] = get_job(operation.type).summary(operation) if is_terminal(
        operation.status) else None
    return data


def render_list_row(operation: Operation) -> str:
    return _dumps(list_row(operation))


def render_list(bank_id: str | None, limit: int, offset: int | None, total: int | None,
                next_cursor: str | None, rows: list[str]) -> bytes:
    """The list envelope (docs/api.md 1.3) as JSON bytes, around rows already rendered."""
    head = _dumps({"bank_id": bank_id, "total": total, "limit": limit, "offset": offset,
                   "next_cursor": next_cursor})
    return f'{head[:-1]},"operations":[{",".join(rows)}]}}'.encode()


class OperationSerializer(serializers.ModelSerializer):
    """``context["full_result"]`` picks the detail result (arrays) over the list summary."""

    operation_id = serializers.UUIDField(source="id", read_only=True)
    bank_id = serializers.CharField(source="bank.bank_id", read_only=True)
    result = serializers.SerializerMethodField()
    # Scheduling (docs/api.md "Scheduling fields").
    retry_count = serializers.IntegerField(source="retries", read_only=True)
    next_retry_at = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "operation_id", "bank_id", "type", "status", "progress", "total", "created_at",
            "started_at", "completed_at", "error", "result", "stage", "failed_items_count",
            "attempt", "updated_at", "retry_count", "next_retry_at", "last_error",
        ]
        read_only_fields = fields

    # The three methods below document the scheduling fields for the schema; the values come
    # from ``operation_fields`` (one pass over the row).
    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_retry_at(self, operation: Operation) -> str | None:
        """Only while the operation waits for its retry (``pending``)."""
        return next_retry_at(operation)

    def get_last_error(self, operation: Operation) -> str | None:
        """The most recent transient error, kept while ``error`` is null."""
        return operation.last_error or None

    def to_representation(self, operation: Operation) -> dict[str, Any]:
        data = operation_fields(operation)
        data["result"] = self.get_result(operation)
        return data

    def get_result(self, operation: Operation) -> dict[str, Any] | None:
        if not is_terminal(operation.status):
            return None
        job = get_job(operation.type)
        if self.context.get("full_result"):
            return job.result(operation)
        return job.summary(operation)


class SubmittedOperationSerializer(OperationSerializer):
    """The answer to a submit: the operation plus ``deduplicated`` (documented for the schema;
    the view adds the value)."""

    deduplicated = serializers.BooleanField(
        read_only=True, default=False,
        help_text="true: an identical pending maintenance operation was returned instead of a "
                  "new one",
    )

    class Meta(OperationSerializer.Meta):
        fields = [*OperationSerializer.Meta.fields, "deduplicated"]
        read_only_fields = fields


# An envelope object, not an array: without many=False drf-spectacular documents list actions
# as arrays, and schemathesis flags every real response as a schema violation.
@extend_schema_serializer(many=False)
class OperationListSerializer(serializers.Serializer):
    """The list envelope (docs/api.md 1.3); documented for the schema."""

    bank_id = serializers.CharField(allow_null=True)
    total = serializers.IntegerField(
        allow_null=True,
        help_text="Operations matching the filters, in offset mode; null on cursor pages "
                  "(a cursor page does not count: that is what keeps it cheap).",
    )
    limit = serializers.IntegerField()
    offset = serializers.IntegerField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)
    operations = OperationSerializer(many=True)


class SubmitOperationSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=OperationType.choices)
    operation_id = serializers.UUIDField(required=False, allow_null=True)
    # Checked by the job's own fast validator (no per-item serializer overhead).
    contents = ParsedJSONField(required=False)
    entities = serializers.ListField(required=False, child=serializers.CharField())


class BulkCancelSerializer(serializers.Serializer):
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=OperationStatus.choices), required=False,
        allow_empty=False,
    )
    operation_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False
    )

    def validate_operation_ids(self, value: list[str]) -> list[str]:
        if len(value) > BULK_CANCEL_MAX_IDS:
            raise LimitExceeded(
                "operation_ids", BULK_CANCEL_MAX_IDS,
                f"{len(value)} operation_ids is more than {BULK_CANCEL_MAX_IDS} per request",
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "status" not in attrs and "operation_ids" not in attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give 'status' and/or 'operation_ids'."]}
            )
        return attrs


class BulkCancelResultSerializer(serializers.Serializer):
    cancelled = serializers.IntegerField()
    already_terminal = serializers.IntegerField()
    not_found = serializers.IntegerField()
    operation_ids = serializers.ListField(child=serializers.UUIDField())
