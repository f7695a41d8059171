"""Bank and memory endpoints of the native API (docs/api.md 1.2)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hindsight_project.pagination import paginate_newest_first, parse_limit, parse_offset
from operations.serializers import OperationSerializer
from operations.views import submission_response

from . import services
from .access import may_create_bank, visible_bank, visible_banks
from .exceptions import BankNotFound
from .files import retain_files
from .filters import BankFilterSet, MemoryFilterSet
from .memory_queries import memories_matching
from .models import Bank, Memory
from .retain import Retained, retain
from .serializers import (
    BankCreateSerializer,
    BankListSerializer,
    BankSerializer,
    BankUpdateSerializer,
    FileRetainRequestSerializer,
    MemoryListSerializer,
    MemorySerializer,
    RetainRequestDocSerializer,
    RetainRequestSerializer,
    RetainResultSerializer,
)


def bank_data(banks: list[Bank]) -> list[dict]:
    stats = services.bank_stats([bank.pk for bank in banks])
    return BankSerializer(banks, many=True, context={"stats": stats}).data


class BankViewSet(viewsets.GenericViewSet):
    queryset = Bank.objects.none()
    serializer_class = BankSerializer
    filterset_class = BankFilterSet

    def get_queryset(self) -> QuerySet[Bank]:
        return visible_banks(self.request)

    @extend_schema(responses=BankListSerializer)
    def list(self, request: Request) -> Response:
        limit, offset = parse_limit(request, default=100, maximum=1000), parse_offset(request)
        banks = self.filter_queryset(self.get_queryset()).order_by("bank_id")
        rows = list(banks[offset : offset + limit])
        return Response({"total": banks.count(), "limit": limit, "offset": offset,
                         "banks": bank_data(rows)})

    @extend_schema(request=BankCreateSerializer, responses={201: BankSerializer})
    def create(self, request: Request) -> Response:
        body = BankCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not may_create_bank(request, body.validated_data["bank_id"]):
            raise BankNotFound(body.validated_data["bank_id"])
        bank, created = services.create_bank(**body.validated_data)
        return Response(bank_data([bank])[0],
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def retrieve(self, request: Request, bank_id: str) -> Response:
        return Response(bank_data([visible_bank(request, bank_id)])[0])

    @extend_schema(request=BankUpdateSerializer, responses=BankSerializer)
    def partial_update(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        body = BankUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.update_bank(bank, **body.validated_data)
        return Response(bank_data([bank])[0])

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, bank_id: str) -> Response:
        services.delete_bank(visible_bank(request, bank_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemoryViewSet(viewsets.GenericViewSet):
    queryset = Memory.objects.none()
    serializer_class = MemorySerializer
    filterset_class = MemoryFilterSet

    def get_queryset(self) -> QuerySet[Memory]:
        return memories_matching(visible_bank(self.request, self.kwargs["bank_id"]))

    @extend_schema(responses=MemoryListSerializer)
    def list(self, request: Request, bank_id: str) -> Response:
        memories = self.filter_queryset(self.get_queryset())
        page = paginate_newest_first(memories, request, f"memories:{bank_id}")
        return Response({"bank_id": bank_id, "total": page.total, "limit": page.limit,
                         "offset": page.offset, "next_cursor": page.next_cursor,
                         "memories": MemorySerializer(page.rows, many=True).data})

    @extend_schema(
        request=RetainRequestDocSerializer,
        responses={201: RetainResultSerializer, 202: OperationSerializer},
    )
    def create(self, request: Request, bank_id: str) -> Response:
        """Retain: ``async: true`` answers 202 with the operation at once; otherwise the same
        operation runs in this request and the answer is its result (``banks.retain``)."""
        body = RetainRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run_async = body.validated_data["async"]
        retained = retain(
            request, bank_id, body.validated_data["contents"], run_async=run_async,
            operation_id=body.validated_data.get("operation_id"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return retain_answer(retained, run_async)


def retain_answer(retained: Retained, run_async: bool) -> Response:
    """Async (or a sync run still going after the wait): the operation, 202. Sync: its
    memory ids and failed items, 201 (200 for a replay)."""
    if run_async or not retained.finished:
        return submission_response(retained.operation, retained.created or not run_async)
    data = OperationSerializer(retained.operation, context={"full_result": True}).data
    payload = data["result"] or {"memory_ids": [], "failed_items": []}
    return Response(
        {"memory_ids": payload.get("memory_ids", []),
         "failed_items": payload.get("failed_items", []),
         "operation_id": data["operation_id"], "status": data["status"]},
        status=status.HTTP_201_CREATED if retained.created else status.HTTP_200_OK,
    )


class FileRetainView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": FileRetainRequestSerializer},
        responses={201: RetainResultSerializer, 202: OperationSerializer},
    )
    def post(self, request: Request, bank_id: str) -> Response:
        """Retain files: each becomes a document whose text is split into memories, in one
        ``file_retain`` operation (``banks.files``). ``async: true`` answers 202 at once."""
        body = FileRetainRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run_async = body.validated_data["async"]
        retained = retain_files(
            request, bank_id, body.validated_data["files"], body.file_options(),
            run_async=run_async, operation_id=body.validated_data.get("operation_id"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return retain_answer(retained, run_async)
