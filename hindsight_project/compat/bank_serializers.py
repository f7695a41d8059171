"""Request and response components of the Hindsight-compatible bank, memory and recall
endpoints (docs/api.md 2.3, 2.4), named after the upstream models with a ``Compat`` prefix.

The small request bodies (bank upsert, recall) are validated by these serializers; every
optional field accepts an explicit ``null`` because the official client sends one for each
field it was not given. The retain body is checked by ``compat.banks.parse_retain`` (plain
Python, cheap for 10,000 items); ``CompatRetainRequestSerializer`` only documents it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .banks import UPDATE_MODES


def _opt(field: type[serializers.Field], **kwargs: Any) -> serializers.Field:
    return field(required=False, allow_null=True, **kwargs)


def _opt_text(**kwargs: Any) -> serializers.Field:
    return _opt(serializers.CharField, allow_blank=True, **kwargs)


def _opt_strings() -> serializers.Field:
    return _opt(serializers.ListField, child=serializers.CharField(allow_blank=True))


class CompatDispositionSerializer(serializers.Serializer):
    skepticism = serializers.IntegerField(min_value=1, max_value=5)
    literalism = serializers.IntegerField(min_value=1, max_value=5)
    empathy = serializers.IntegerField(min_value=1, max_value=5)


class CompatBankUpsertSerializer(serializers.Serializer):
    """``PUT``/``PATCH /v1/default/banks/{bank_id}``. ``reflect_mission`` and ``background``
    are upstream aliases of ``mission``; other upstream bank settings are accepted and ignored."""

    name = _opt_text(max_length=256)
    mission = _opt_text()
    reflect_mission = _opt_text()
    background = _opt_text()
    disposition = _opt(CompatDispositionSerializer)
    disposition_skepticism = _opt(serializers.IntegerField, min_value=1, max_value=5)
    disposition_literalism = _opt(serializers.IntegerField, min_value=1, max_value=5)
    disposition_empathy = _opt(serializers.IntegerField, min_value=1, max_value=5)

    def bank_fields(self) -> dict[str, str]:
        """The fields our bank model keeps: name, and mission from the first alias given."""
        data = self.validated_data
        fields: dict[str, str] = {}
        if data.get("name") is not None:
            fields["name"] = data["name"]
        for alias in ("mission", "reflect_mission", "background"):
            if data.get(alias) is not None:
                fields["mission"] = data[alias]
                break
        return fields


class CompatBankProfileSerializer(serializers.Serializer):
    bank_id = serializers.CharField()
    name = serializers.CharField()
    disposition = CompatDispositionSerializer()
    mission = serializers.CharField(allow_blank=True)
    background = serializers.CharField(allow_null=True)


class CompatBankListItemSerializer(serializers.Serializer):
    bank_id = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    disposition = CompatDispositionSerializer()
    mission = serializers.CharField(allow_null=True, allow_blank=True)
    created_at = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)
    fact_count = serializers.IntegerField()
    last_document_at = serializers.CharField(allow_null=True)
    last_write_at = serializers.CharField(allow_null=True)
    display_alias = serializers.CharField(allow_null=True)
    matched_aliases = serializers.ListField(child=serializers.CharField())


class CompatBankListSerializer(serializers.Serializer):
    banks = CompatBankListItemSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class CompatDeleteSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField(allow_null=True)
    deleted_count = serializers.IntegerField(allow_null=True)


class CompatBankStatsSerializer(serializers.Serializer):
    bank_id = serializers.CharField()
    total_nodes = serializers.IntegerField()
    total_links = serializers.IntegerField()
    total_documents = serializers.IntegerField()
    nodes_by_fact_type = serializers.DictField(child=serializers.IntegerField())
    links_by_link_type = serializers.DictField(child=serializers.IntegerField())
    links_by_fact_type = serializers.DictField(child=serializers.IntegerField())
    links_breakdown = serializers.DictField(child=serializers.DictField())
    pending_operations = serializers.IntegerField()
    failed_operations = serializers.IntegerField()
    operations_by_status = serializers.DictField(child=serializers.IntegerField())
    last_consolidated_at = serializers.CharField(allow_null=True)
    last_memory_write_at = serializers.CharField(allow_null=True)
    pending_consolidation = serializers.IntegerField()
    failed_consolidation = serializers.IntegerField()
    total_observations = serializers.IntegerField()


class CompatEntityInputSerializer(serializers.Serializer):
    text = serializers.CharField()
    type = _opt(serializers.CharField)


class CompatMemoryItemSerializer(serializers.Serializer):
    content = serializers.JSONField(help_text="a string, or a list of text content blocks")
    timestamp = _opt(serializers.CharField, help_text="ISO-8601, 'unset' or null")
    context = _opt_text()
    metadata = _opt(serializers.DictField, child=serializers.CharField(allow_blank=True))
    document_id = _opt(serializers.CharField)
    entities = _opt(serializers.ListField, child=CompatEntityInputSerializer())
    resolve_entities = _opt(serializers.BooleanField)
    tags = _opt_strings()
    observation_scopes = _opt(serializers.JSONField)
    strategy = _opt(serializers.CharField)
    update_mode = _opt(serializers.ChoiceField, choices=sorted(UPDATE_MODES))


class _AsyncKey:
    """``async`` is a Python keyword, so the field is added by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["async"] = serializers.BooleanField(required=False, allow_null=True)


class CompatRetainRequestSerializer(_AsyncKey, serializers.Serializer):
    items = CompatMemoryItemSerializer(many=True)
    document_tags = _opt_strings()
    operation_id = _opt(serializers.UUIDField)


class CompatRetainResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    bank_id = serializers.CharField()
    items_count = serializers.IntegerField()
    operation_id = serializers.CharField(allow_null=True)
    operation_ids = serializers.ListField(child=serializers.CharField(), allow_null=True)
    usage = serializers.DictField(allow_null=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["async"] = serializers.BooleanField()


class CompatEntityIncludeSerializer(serializers.Serializer):
    max_tokens = _opt(serializers.IntegerField, min_value=1)


class CompatIncludeSerializer(serializers.Serializer):
    entities = _opt(CompatEntityIncludeSerializer)
    chunks = _opt(serializers.DictField)
    source_facts = _opt(serializers.DictField)


TAGS_MATCH = ["any", "all", "any_strict", "all_strict", "exact"]


class CompatRecallRequestSerializer(serializers.Serializer):
    query = serializers.CharField(allow_blank=True, trim_whitespace=False)
    types = _opt_strings()
    budget = _opt(serializers.ChoiceField, choices=["low", "mid", "high"])
    max_tokens = _opt(serializers.IntegerField, min_value=1)
    trace = _opt(serializers.BooleanField)
    include = _opt(CompatIncludeSerializer)
    tags = _opt_strings()
    tags_match = _opt(serializers.ChoiceField, choices=TAGS_MATCH)
    query_timestamp = _opt(serializers.CharField)
    tag_groups = _opt(serializers.ListField, child=serializers.JSONField())
    min_scores = _opt(serializers.DictField, child=serializers.FloatField(allow_null=True))
    temporal_window = _opt(serializers.DictField)
    prefer_observations = _opt(serializers.BooleanField)


class CompatRecallScoresSerializer(serializers.Serializer):
    final = serializers.FloatField()
    keyword = serializers.FloatField(allow_null=True)
    semantic = serializers.FloatField(allow_null=True)
    reranker = serializers.FloatField(allow_null=True)


class CompatRecallResultSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    type = serializers.CharField(allow_null=True)
    entities = serializers.ListField(child=serializers.CharField(), allow_null=True)
    context = serializers.CharField(allow_null=True)
    occurred_start = serializers.CharField(allow_null=True)
    occurred_end = serializers.CharField(allow_null=True)
    mentioned_at = serializers.CharField(allow_null=True)
    document_id = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField(), allow_null=True)
    chunk_id = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), allow_null=True)
    source_fact_ids = serializers.ListField(child=serializers.CharField(), allow_null=True)
    scores = CompatRecallScoresSerializer(allow_null=True)
    attachments = serializers.ListField(child=serializers.DictField(), allow_null=True)


class CompatEntityObservationSerializer(serializers.Serializer):
    text = serializers.CharField()
    mentioned_at = serializers.CharField(allow_null=True)


class CompatEntityStateSerializer(serializers.Serializer):
    entity_id = serializers.CharField()
    canonical_name = serializers.CharField()
    observations = CompatEntityObservationSerializer(many=True)


class CompatRecallResponseSerializer(serializers.Serializer):
    results = CompatRecallResultSerializer(many=True)
    trace = serializers.DictField(allow_null=True)
    entities = serializers.DictField(child=CompatEntityStateSerializer(), allow_null=True)
    chunks = serializers.DictField(allow_null=True)
    source_facts = serializers.DictField(allow_null=True)
    source_facts_truncated = serializers.BooleanField(allow_null=True)


class CompatMemoryUnitSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    context = serializers.CharField(allow_blank=True)
    date = serializers.CharField(allow_blank=True)
    fact_type = serializers.CharField()
    document_id = serializers.CharField(allow_null=True)
    mentioned_at = serializers.CharField(allow_null=True)
    occurred_start = serializers.CharField(allow_null=True)
    occurred_end = serializers.CharField(allow_null=True)
    entities = serializers.CharField(allow_blank=True, help_text="comma-joined entity names")
    chunk_id = serializers.CharField(allow_null=True)
    proof_count = serializers.IntegerField()
    tags = serializers.ListField(child=serializers.CharField())
    metadata = serializers.DictField()
    state = serializers.CharField()
    updated_at = serializers.CharField(allow_null=True)


class CompatMemoryListSerializer(serializers.Serializer):
    items = CompatMemoryUnitSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
