"""Bank and memory endpoints of the native API (API.md §1.2)."""

from __future__ import annotations

import time

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from hindsight_project.pagination import paginate_newest_first, parse_limit, parse_offset
from operations.models import Operation
from operations.runner import run_operation
from operations.serializers import OperationSerializer
from operations.states import OperationType, is_terminal
from operations.submission import operation_id_for_key, submit
from operations.views import submission_response

from . import services
from .access import may_create_bank, visible_bank, visible_banks
from .memory_queries import memories_matching
from .models import Bank, Memory
from .serializers import (
    BankCreateSerializer,
    BankSerializer,
    BankUpdateSerializer,
    MemorySerializer,
    RetainRequestDocSerializer,
    RetainRequestSerializer,
    RetainResultSerializer,
)

SYNC_WAIT_SECONDS = 300


def wait_until_terminal(operation: Operation) -> Operation:
    """A synchronous retain whose claim was won by the sweeper (it may pick up any pending row)
    waits for that run instead of answering before the work is done."""
    deadline = time.monotonic() + SYNC_WAIT_SECONDS
    operation.refresh_from_db()
    while not is_terminal(operation.status) and time.monotonic() < deadline:
        time.sleep(0.05)
        operation.refresh_from_db()
    return operation


def bank_data(banks: list[Bank]) -> list[dict]:
    stats = services.bank_stats([bank.pk for bank in banks])
    return BankSerializer(banks, many=True, context={"stats": stats}).data


class BankViewSet(viewsets.GenericViewSet):
    queryset = Bank.objects.none()
    serializer_class = BankSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Bank]:
        return visible_banks(self.request)

    def list(self, request: Request) -> Response:
        limit, offset = parse_limit(request, default=100, maximum=1000), parse_offset(request)
        banks = self.get_queryset().order_by("bank_id")
        rows = list(banks[offset : offset + limit])
        return Response({"total": banks.count(), "limit": limit, "offset": offset,
                         "banks": bank_data(rows)})

    @extend_schema(request=BankCreateSerializer, responses={201: BankSerializer})
    def create(self, request: Request) -> Response:
        body = BankCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not may_create_bank(request, body.validated_data["bank_id"]):
            raise NotFound("Bank not found")
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
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Memory]:
        bank = visible_bank(self.request, self.kwargs["bank_id"])
        params = self.request.query_params
        return memories_matching(
            bank, text=params.get("q"), document_id=params.get("document_id"),
            tags=params.getlist("tag"), tags_match="all",
        )

    def list(self, request: Request, bank_id: str) -> Response:
        page = paginate_newest_first(self.get_queryset(), request, f"memories:{bank_id}")
        return Response({"bank_id": bank_id, "total": page.total, "limit": page.limit,
                         "offset": page.offset, "next_cursor": page.next_cursor,
                         "memories": MemorySerializer(page.rows, many=True).data})

    @extend_schema(
        request=RetainRequestDocSerializer,
        responses={201: RetainResultSerializer, 202: OperationSerializer},
    )
    def create(self, request: Request, bank_id: str) -> Response:
        """Retain: ``async: true`` answers 202 with the operation at once; otherwise the same
        operation runs in this request and the answer is its result."""
        body = RetainRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not may_create_bank(request, bank_id):
            raise NotFound("Bank not found")
        bank = services.get_or_create_bank(bank_id)
        op_id = body.validated_data.get("operation_id")
        key = request.headers.get("Idempotency-Key")
        if op_id is None and key:
            op_id = operation_id_for_key(bank, key)
        run_async = body.validated_data["async"]
        result = submit(bank, OperationType.BATCH_RETAIN,
                        {"contents": body.validated_data["contents"]}, op_id,
                        dispatch=run_async)
        if run_async:
            return submission_response(result.operation, result.created)
        operation = result.operation
        if result.created:
            run_operation(operation.pk)
        operation = wait_until_terminal(operation)
        if not is_terminal(operation.status):
            return submission_response(operation, created=True)
        data = OperationSerializer(operation, context={"full_result": True}).data
        payload = data["result"] or {"memory_ids": [], "failed_items": []}
        return Response(
            {"memory_ids": payload.get("memory_ids", []),
             "failed_items": payload.get("failed_items", []),
             "operation_id": data["operation_id"], "status": data["status"]},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
