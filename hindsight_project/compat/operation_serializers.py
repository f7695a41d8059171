"""Schema components of the Hindsight-compatible operation endpoints (docs/api.md 2.2).

They document what ``compat.operations`` builds (names follow the upstream models the official
client parses, prefixed ``Compat`` so they never collide with native components). Translation
only: nothing here validates input or changes state.
"""

from __future__ import annotations

from rest_framework import serializers

from .vocabulary import STATUS_TO_COMPAT

# Named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]: two status vocabularies share the field
# name "status" with the native operation object, and the schema must keep them apart.
COMPAT_STATUSES = [*STATUS_TO_COMPAT.values()]
COMPAT_STATUSES_OR_NOT_FOUND = [*COMPAT_STATUSES, "not_found"]


class CompatOperationProgressSerializer(serializers.Serializer):
    stage = serializers.CharField()
    at = serializers.CharField()
    processed = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField(allow_null=True)
    detail = serializers.DictField(child=serializers.IntegerField(), allow_null=True)


class CompatOperationSerializer(serializers.Serializer):
    id = serializers.CharField()
    task_type = serializers.CharField()
    operation_id = serializers.CharField(allow_null=True)
    operation_type = serializers.CharField(allow_null=True)
    items_count = serializers.IntegerField()
    document_id = serializers.CharField(allow_null=True)
    filename = serializers.CharField(allow_null=True)
    mental_model_id = serializers.CharField(allow_null=True)
    details = serializers.DictField(allow_null=True)
    created_at = serializers.CharField()
    updated_at = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=COMPAT_STATUSES)
    error_message = serializers.CharField(allow_null=True)
    retry_count = serializers.IntegerField(allow_null=True)
    next_retry_at = serializers.CharField(allow_null=True)
    progress = CompatOperationProgressSerializer(allow_null=True)


class CompatOperationsListSerializer(serializers.Serializer):
    bank_id = serializers.CharField()
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    operations = CompatOperationSerializer(many=True)


class CompatOperationStatusSerializer(serializers.Serializer):
    operation_id = serializers.CharField()
    status = serializers.ChoiceField(choices=COMPAT_STATUSES_OR_NOT_FOUND)
    operation_type = serializers.CharField(allow_null=True)
    id = serializers.CharField(allow_null=True)
    task_type = serializers.CharField(allow_null=True)
    mental_model_id = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)
    completed_at = serializers.CharField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    retry_count = serializers.IntegerField(allow_null=True)
    next_retry_at = serializers.CharField(allow_null=True)
    progress = CompatOperationProgressSerializer(allow_null=True)
    result_metadata = serializers.DictField(allow_null=True)
    details = serializers.DictField(allow_null=True)
    child_operations = serializers.ListField(child=serializers.DictField(), allow_null=True)
    task_payload = serializers.DictField(allow_null=True)


class CompatOperationActionSerializer(serializers.Serializer):
    """Body of cancel (``DELETE .../{id}``), retry and delete."""

    success = serializers.BooleanField()
    message = serializers.CharField()
    operation_id = serializers.CharField()


class CompatConsolidationSerializer(serializers.Serializer):
    """Answer of ``POST .../consolidate`` (the client's ``ConsolidationResponse``)."""

    operation_id = serializers.CharField()
    deduplicated = serializers.BooleanField()


class CompatErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class CompatValidationErrorEntrySerializer(serializers.Serializer):
    type = serializers.CharField()
    loc = serializers.ListField(child=serializers.JSONField())
    msg = serializers.CharField()


class CompatValidationErrorSerializer(serializers.Serializer):
    detail = CompatValidationErrorEntrySerializer(many=True)
