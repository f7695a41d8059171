"""The operation object of docs/api.md 1.1 and the request bodies of the operation endpoints.
Serializers only translate: they never change state or enqueue work."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from banks.serializers import ParsedJSONField

from .exceptions import LimitExceeded
from .models import Operation
from .registry import get_job
from .states import OperationStatus, OperationType, is_terminal

BULK_CANCEL_MAX_IDS = 1000


class OperationSerializer(serializers.ModelSerializer):
    """``context["full_result"]`` picks the detail result (arrays) over the list summary."""

    operation_id = serializers.UUIDField(source="id", read_only=True)
    bank_id = serializers.CharField(source="bank.bank_id", read_only=True)
    result = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "operation_id", "bank_id", "type", "status", "progress", "total", "created_at",
            "started_at", "completed_at", "error", "result", "stage", "failed_items_count",
            "attempt", "updated_at",
        ]
        read_only_fields = fields

    def get_result(self, operation: Operation) -> dict[str, Any] | None:
        if not is_terminal(operation.status):
            return None
        job = get_job(operation.type)
        if self.context.get("full_result"):
            return job.result(operation)
        return job.summary(operation)


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
