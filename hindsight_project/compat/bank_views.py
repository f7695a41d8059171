"""Bank, memory, retain and recall endpoints of the Hindsight-compatible surface
(docs/api.md, "Hindsight-compatible API").

A translation layer over the services the native API uses: banks are looked up through
``banks.access``, retain is ``banks.retain.retain`` (the same service as the native retain),
recall is ``banks.recall.recall``. ``hindsight_project.compat.banks`` reshapes inputs and outputs.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from banks import services
from banks.access import may_create_bank, visible_bank, visible_banks
from banks.entities import entity_details, entity_names_for
from banks.exceptions import BankNotFound
from banks.memory_queries import (
    banks_matching,
    document_count,
    last_writes,
    link_count,
    memories_matching,
)
from banks.recall import recall
from banks.retain import retain
from operations.exceptions import InvalidInput
from operations.states import OperationStatus

from . import banks as compat
from .bank_serializers import (
    CompatBankListSerializer,
    CompatBankProfileSerializer,
    CompatBankStatsSerializer,
    CompatBankUpsertSerializer,
    CompatDeleteSerializer,
    CompatMemoryListSerializer,
    CompatRecallRequestSerializer,
    CompatRecallResponseSerializer,
    CompatRetainRequestSerializer,
    CompatRetainResponseSerializer,
)
from .http import CompatAPIView, validated_body
from .operation_serializers import CompatErrorSerializer, CompatValidationErrorSerializer
from .queries import TAGS_MATCH, BankListQuery, MemoryListQuery, validated_query

BANK_TAGS = ["Hindsight-compatible: banks"]
MEMORY_TAGS = ["Hindsight-compatible: memories"]
# Candidate list length per upstream recall budget; max_tokens then cuts the ranked list.
BUDGET_LIMITS = {"low": 20, "mid": 50, "high": 100}
ERRORS = {404: CompatErrorSerializer, 422: CompatValidationErrorSerializer}


class BankListView(CompatAPIView):
    @extend_schema(
        operation_id="compat_list_banks",
        tags=BANK_TAGS,
        parameters=[BankListQuery],
        responses={200: CompatBankListSerializer, 422: CompatValidationErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = validated_query(BankListQuery, request)
        limit, offset = query["limit"], query["offset"]
        banks = banks_matching(visible_banks(request), query.get("q"))
        page = list(banks[offset : offset + limit])
        stats = services.bank_stats([bank.pk for bank in page])
        writes = last_writes(bank.pk for bank in page)
        return Response({
            "banks": [compat.bank_item(b, stats[b.pk], writes.get(b.pk)) for b in page],
            "total": banks.count(),
            "limit": limit,
            "offset": offset,
        })


class BankDetailView(CompatAPIView):
    @extend_schema(
        operation_id="compat_create_or_update_bank",
        tags=BANK_TAGS,
        request=CompatBankUpsertSerializer,
        responses={200: CompatBankProfileSerializer, **ERRORS},
    )
    def put(self, request: Request, bank_id: str) -> Response:
        """Upsert: a new bank gets ``name`` (default: its id) and ``mission`` (default ``""``);
        an existing one is updated with the fields given."""
        body = CompatBankUpsertSerializer(data=request.data)
        validated_body(body)
        if not may_create_bank(request, bank_id):
            raise BankNotFound(bank_id)
        fields = body.bank_fields()
        bank, created = services.create_bank(bank_id, **fields)
        if not created:
            services.update_bank(bank, **fields)
        return Response(compat.bank_profile(bank))

    @extend_schema(
        operation_id="compat_update_bank",
        tags=BANK_TAGS,
        request=CompatBankUpsertSerializer,
        responses={200: CompatBankProfileSerializer, **ERRORS},
    )
    def patch(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        body = CompatBankUpsertSerializer(data=request.data)
        validated_body(body)
        services.update_bank(bank, **body.bank_fields())
        return Response(compat.bank_profile(bank))

    @extend_schema(
        operation_id="compat_delete_bank",
        tags=BANK_TAGS,
        request=None,
        responses={200: CompatDeleteSerializer, 404: CompatErrorSerializer},
    )
    def delete(self, request: Request, bank_id: str) -> Response:
        """Deletes the bank, its memories and operations (active ones are cancelled first).
        An unknown bank is a success with nothing deleted, as upstream answers; a bank outside
        the caller's key scope is a 404 like everywhere else."""
        if not may_create_bank(request, bank_id):
            raise BankNotFound(bank_id)
        try:
            bank = visible_bank(request, bank_id)
        except BankNotFound:
            return Response({"success": True, "message": f"Bank '{bank_id}' does not exist",
                             "deleted_count": 0})
        deleted = services.delete_bank(bank)
        return Response({"success": True, "deleted_count": deleted,
                         "message": f"Bank '{bank_id}' deleted with {deleted} memories"})


class BankStatsView(CompatAPIView):
    @extend_schema(
        operation_id="compat_get_agent_stats",
        tags=BANK_TAGS,
        responses={200: CompatBankStatsSerializer, 404: CompatErrorSerializer},
    )
    def get(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        stats = services.bank_stats([bank.pk])[bank.pk]
        return Response(compat.bank_stats(bank, stats, document_count(bank), link_count(bank)))


class RetainView(CompatAPIView):
    @extend_schema(
        operation_id="compat_retain_memories",
        tags=MEMORY_TAGS,
        request=CompatRetainRequestSerializer,
        responses={200: CompatRetainResponseSerializer, 400: CompatErrorSerializer,
                   409: CompatErrorSerializer, 413: CompatErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, bank_id: str) -> Response:
        """Retain items as one ``batch_retain`` operation. ``async: true`` answers at once with
        the operation id; otherwise the operation runs in this request. Re-sending an
        ``operation_id`` replays the original answer and creates no work."""
        body = compat.parse_retain(request.data)
        if body.run_async:
            compat.check_unique_documents(body.contents)
        try:
            retained = retain(request, bank_id, body.contents, run_async=body.run_async,
                              operation_id=body.operation_id, replay_any_body=True)
        except InvalidInput as exc:
            raise compat.native_errors_as_items(exc) from None
        operation = retained.operation
        bank = operation.bank
        if body.run_async or not retained.finished:
            # Still running after the wait: answer like an async retain so it can be polled.
            return Response(compat.retain_response(bank, operation.total, True, operation.pk))
        return Response(compat.retain_response(
            bank, operation.total, False, None,
            success=operation.status == OperationStatus.COMPLETED,
        ))


class RecallView(CompatAPIView):
    @extend_schema(
        operation_id="compat_recall_memories",
        tags=MEMORY_TAGS,
        request=CompatRecallRequestSerializer,
        responses={200: CompatRecallResponseSerializer, **ERRORS},
    )
    def post(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        data = validated_body(CompatRecallRequestSerializer(data=request.data))
        types = data.get("types")
        hits = []
        if not types or compat.FACT_TYPE in types:
            hits = recall(
                bank, data["query"],
                limit=BUDGET_LIMITS[data.get("budget") or "mid"],
                tags=data.get("tags"),
                tags_match=TAGS_MATCH[data.get("tags_match") or "any"],
                max_tokens=data.get("max_tokens") or 4096,
            )
        floors = data.get("min_scores") or {}
        floor = max((floors.get(k) or 0.0) for k in ("final", "keyword")) if floors else 0.0
        hits = [hit for hit in hits if hit.score >= floor]
        names = entity_names_for([hit.memory.pk for hit in hits])
        entities = None
        include_entities = (data.get("include") or {}).get("entities")
        if include_entities is not None:
            mentioned = dict.fromkeys(name for hit in hits for name in names[hit.memory.pk])
            entities = compat.entities_budget(entity_details(bank, mentioned),
                                              include_entities.get("max_tokens"))
        trace = None
        if data.get("trace"):
            trace = {"backend": "banks.recall", "budget": data.get("budget") or "mid",
                     "results": len(hits)}
        return Response({
            "results": [compat.recall_result(hit, names[hit.memory.pk]) for hit in hits],
            "trace": trace,
            "entities": entities,
            "chunks": None,
            "source_facts": None,
            "source_facts_truncated": None,
        })


class MemoryListView(CompatAPIView):
    @extend_schema(
        operation_id="compat_list_memories",
        tags=MEMORY_TAGS,
        parameters=[MemoryListQuery],
        responses={200: CompatMemoryListSerializer, **ERRORS},
    )
    def get(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        query = validated_query(MemoryListQuery, request)
        limit, offset = query["limit"], query["offset"]
        memories = memories_matching(
            bank, text=query.get("q"), document_id=query.get("document_id"),
            tags=query.get("tags"), tags_match=query["tags_match"],
            entity_id=query.get("entity_id"),
        )
        fact_type, state = query.get("type"), query.get("state")
        if (fact_type and fact_type != compat.FACT_TYPE) or (state and state != "valid"):
            memories = memories.none()
        page = list(memories[offset : offset + limit])
        names = entity_names_for([memory.pk for memory in page])
        return Response({
            "items": [compat.memory_list_item(memory, names[memory.pk]) for memory in page],
            "total": memories.count(),
            "limit": limit,
            "offset": offset,
        })
