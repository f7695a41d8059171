"""Bank, memory, retain and recall endpoints of the Hindsight-compatible surface (API.md §2.3,
§2.4).

A translation layer over the services the native API uses: banks are looked up through
``banks.access``, retain goes through ``operations.submission.submit`` (and ``run_operation`` in
the request when synchronous, exactly like the native retain), recall through
``banks.recall.recall``. ``banks.compat`` reshapes inputs and outputs.
"""

from __future__ import annotations

import uuid

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from hindsight_project.compat_http import (
    CompatAPIView,
    query_error,
    query_int,
    query_list,
    query_str,
    validated_body,
)
from operations.compat_serializers import CompatErrorSerializer, CompatValidationErrorSerializer
from operations.exceptions import BankNotFound, IdempotencyConflict, OperationNotFound
from operations.models import Operation
from operations.runner import run_operation
from operations.services import get_operation
from operations.states import OperationStatus, OperationType, is_terminal
from operations.submission import Submission, submit

from . import compat, services
from .access import may_create_bank, visible_bank, visible_banks
from .compat_serializers import (
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
from .entities import entity_details, entity_names_for
from .memory_queries import document_count, last_writes, link_count, memories_matching
from .models import Bank
from .recall import recall
from .views import wait_until_terminal

BANK_TAGS = ["Hindsight-compatible: banks"]
MEMORY_TAGS = ["Hindsight-compatible: memories"]
MAX_PAGE = 1000  # larger limits are capped, as on the native API
# Candidate list length per upstream recall budget; max_tokens then cuts the ranked list.
BUDGET_LIMITS = {"low": 20, "mid": 50, "high": 100}
# Upstream's non-strict modes also admit untagged memories; here an untagged memory never
# matches a tag filter (the strict meaning), and "exact" is approximated by "all".
TAGS_MATCH = {"any": "any", "any_strict": "any", "all": "all", "all_strict": "all",
              "exact": "all"}
ERRORS = {404: CompatErrorSerializer, 422: CompatValidationErrorSerializer}


def _query(name: str, kind: object, description: str, many: bool = False) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description,
                            many=many)


class BankListView(CompatAPIView):
    @extend_schema(
        operation_id="compat_list_banks",
        tags=BANK_TAGS,
        parameters=[_query("q", str, "substring of the bank id or name"),
                    _query("limit", int, f"default 100, capped at {MAX_PAGE}"),
                    _query("offset", int, ">= 0")],
        responses={200: CompatBankListSerializer, 422: CompatValidationErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        limit = min(query_int(request, "limit", 100, minimum=0), MAX_PAGE)
        offset = query_int(request, "offset", 0, minimum=0)
        banks = visible_banks(request).order_by("bank_id")
        if text := query_str(request, "q"):
            banks = banks.filter(Q(bank_id__icontains=text) | Q(name__icontains=text))
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


def replayed_retain(bank: Bank, operation_id: uuid.UUID) -> Operation:
    """Upstream replays an ``operation_id`` this bank already used for a retain whatever the
    body (a client retry may rebuild items with fresh timestamps), where the native API answers
    409 for a different body; another bank's or another type's id stays a 409."""
    try:
        operation = get_operation(bank, operation_id)
    except OperationNotFound:
        raise IdempotencyConflict(operation_id) from None
    if operation.type != OperationType.BATCH_RETAIN:
        raise IdempotencyConflict(operation_id)
    return operation


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
        if not may_create_bank(request, bank_id):
            raise BankNotFound(bank_id)
        bank = services.get_or_create_bank(bank_id)
        try:
            result = submit(bank, OperationType.BATCH_RETAIN, {"contents": body.contents},
                            body.operation_id, dispatch=body.run_async)
        except ValidationError as exc:
            raise compat.native_errors_as_items(exc) from None
        except IdempotencyConflict:
            result = Submission(replayed_retain(bank, body.operation_id), created=False)
        operation = result.operation
        if body.run_async:
            return Response(compat.retain_response(bank, operation.total, True, operation.pk))
        if result.created:
            run_operation(operation.pk)
        operation = wait_until_terminal(operation)
        if not is_terminal(operation.status):
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
        parameters=[
            _query("q", str, "substring of the text or context"),
            _query("document_id", str, "only this document's memories"),
            _query("tags", str, "repeat for several", many=True),
            _query("tags_match", str, "any (default), all, any_strict, all_strict, exact"),
            _query("entity_id", str, "only memories linked to this entity"),
            _query("type", str, "fact type; every memory here is 'world'"),
            _query("state", str, "valid (every memory here) or invalidated"),
            _query("limit", int, f"default 100, capped at {MAX_PAGE}"),
            _query("offset", int, ">= 0"),
        ],
        responses={200: CompatMemoryListSerializer, **ERRORS},
    )
    def get(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        limit = min(query_int(request, "limit", 100, minimum=0), MAX_PAGE)
        offset = query_int(request, "offset", 0, minimum=0)
        tags_match = query_str(request, "tags_match") or "any"
        if tags_match not in TAGS_MATCH:
            raise query_error("tags_match", f"Input should be one of {', '.join(TAGS_MATCH)}")
        memories = memories_matching(
            bank,
            text=query_str(request, "q"),
            document_id=query_str(request, "document_id"),
            tags=query_list(request, "tags"),
            tags_match=TAGS_MATCH[tags_match],
            entity_id=query_str(request, "entity_id"),
        )
        fact_type, state = query_str(request, "type"), query_str(request, "state")
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
