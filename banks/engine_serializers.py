"""Native wire shapes of the memory engine: recall requests/results and entities.
Translation only."""

from __future__ import annotations

from rest_framework import serializers

from .models import Entity, Memory, Observation
from .recall import MAX_LIMIT
from .serializers import MemorySerializer


class RecallRequestSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=10_000)
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=MAX_LIMIT)
    tags = serializers.ListField(child=serializers.CharField(max_length=256), required=False,
                                 allow_null=True, max_length=100)
    tags_match = serializers.ChoiceField(choices=["any", "all"], required=False, default="any")
    document_id = serializers.CharField(required=False, allow_null=True, max_length=512)
    since = serializers.DateTimeField(required=False, allow_null=True)
    until = serializers.DateTimeField(required=False, allow_null=True)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class RecallResultSerializer(serializers.ModelSerializer):
    """One recalled memory, with its relevance score (higher is more relevant)."""

    # context["scores"]: memory id -> score; context["entities"]: memory id -> entity names.
    memory_id = serializers.UUIDField(source="id", read_only=True)
    score = serializers.SerializerMethodField()
    entities = serializers.SerializerMethodField()

    class Meta:
        model = Memory
        fields = ["memory_id", "content", "score", "context", "timestamp", "tags", "document_id",
                  "metadata", "entities", "created_at"]
        read_only_fields = fields

    def get_score(self, memory: Memory) -> float:
        return self.context["scores"][memory.pk]

    def get_entities(self, memory: Memory) -> list[str]:
        return self.context["entities"].get(memory.pk, [])


class RecallResponseSerializer(serializers.Serializer):
    results = RecallResultSerializer(many=True)


class EntitySerializer(serializers.ModelSerializer):
    """An entity of the bank and how many memories mention it."""

    # context["mentions"]: entity pk -> number of memories mentioning it (one query per page).
    entity_id = serializers.IntegerField(source="id", read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)
    normalized_name = serializers.CharField(source="name", read_only=True)
    mention_count = serializers.SerializerMethodField()

    class Meta:
        model = Entity
        fields = ["entity_id", "name", "normalized_name", "type", "mention_count", "created_at"]
        read_only_fields = fields

    def get_mention_count(self, entity: Entity) -> int:
        return self.context.get("mentions", {}).get(entity.pk, 0)


class ObservationSerializer(serializers.ModelSerializer):
    operation_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Observation
        fields = ["text", "mention_count", "first_seen", "last_seen", "co_mentions", "snippets",
                  "operation_id", "updated_at"]
        read_only_fields = fields


class EntityDetailSerializer(EntitySerializer):
    """The entity with its observation (null before ``regenerate_observations`` ran) and the
    newest memories that mention it."""

    observation = ObservationSerializer(allow_null=True)
    memories = MemorySerializer(many=True)

    class Meta(EntitySerializer.Meta):
        fields = [*EntitySerializer.Meta.fields, "observation", "memories"]
        read_only_fields = fields


class EntityListSerializer(serializers.Serializer):
    bank_id = serializers.CharField()
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    entities = EntitySerializer(many=True)
