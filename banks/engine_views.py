"""Memory-engine endpoints of the native API: recall and entities (docs/api.md 1.2). Thin: bank
lookup through ``banks.access``, one service call, serialize."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hindsight_project.pagination import parse_limit, parse_offset

from .access import visible_bank
from .engine_serializers import (
    EntityDetailSerializer,
    EntityListSerializer,
    EntitySerializer,
    ObservationSerializer,
    RecallRequestSerializer,
    RecallResponseSerializer,
    RecallResultSerializer,
)
from .entities import entity_names_for
from .filters import EntityFilterSet
from .models import Entity, Memory, MemoryEntity, Observation
from .recall import recall
from .serializers import MemorySerializer

ENTITY_MEMORIES_SHOWN = 50


class RecallView(APIView):
    @extend_schema(request=RecallRequestSerializer, responses=RecallResponseSerializer)
    def post(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        body = RecallRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hits = recall(bank, **body.validated_data)
        memories = [hit.memory for hit in hits]
        context = {"scores": {hit.memory.pk: hit.score for hit in hits},
                   "entities": entity_names_for([m.pk for m in memories])}
        return Response(
            {"results": RecallResultSerializer(memories, many=True, context=context).data}
        )


def mention_counts(entity_ids: list[int]) -> dict[int, int]:
    rows = (MemoryEntity.objects.filter(entity_id__in=entity_ids).values("entity_id")
            .annotate(n=Count("id")).order_by())
    return {row["entity_id"]: row["n"] for row in rows}


class EntityViewSet(viewsets.GenericViewSet):
    queryset = Entity.objects.none()  # real queryset is per bank: get_queryset()
    serializer_class = EntitySerializer
    filterset_class = EntityFilterSet

    def get_queryset(self) -> QuerySet[Entity]:
        bank = visible_bank(self.request, self.kwargs["bank_id"])
        return Entity.objects.filter(bank=bank).order_by("name", "id")

    @extend_schema(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=EntityListSerializer,
    )
    def list(self, request: Request, bank_id: str) -> Response:
        limit, offset = parse_limit(request), parse_offset(request)
        entities = self.filter_queryset(self.get_queryset())
        rows = list(entities[offset : offset + limit])
        context = {"mentions": mention_counts([e.pk for e in rows])}
        return Response({"bank_id": bank_id, "total": entities.count(), "limit": limit,
                         "offset": offset,
                         "entities": EntitySerializer(rows, many=True, context=context).data})

    @extend_schema(responses=EntityDetailSerializer)
    def retrieve(self, request: Request, bank_id: str, entity_id: str) -> Response:
        # Ids are integers; anything else (or too big for the column) is simply not found.
        valid = entity_id.isdigit() and len(entity_id) <= 18
        entity = self.get_queryset().filter(pk=int(entity_id)).first() if valid else None
        if entity is None:
            raise NotFound("Entity not found")
        memories = (Memory.objects.filter(entity_links__entity=entity).select_related("bank")
                    .order_by("-created_at", "-id"))
        observation = Observation.objects.filter(entity=entity).first()
        data = EntitySerializer(entity, context={"mentions": mention_counts([entity.pk])}).data
        data["observation"] = ObservationSerializer(observation).data if observation else None
        data["memories"] = MemorySerializer(memories[:ENTITY_MEMORIES_SHOWN], many=True).data
        return Response(data)
