"""Operation endpoints of the Hindsight-compatible surface (docs/api.md 2.2).

A translation layer: each view looks the bank up through ``banks.access``, calls the same
``operations.services`` function as the native API and reshapes the result with
``compat.operations``. Errors are raised, never built here (``compat.errors`` renders them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from banks.access import bank_scope, visible_bank
from banks.models import Bank
from hindsight_project.admission import PlainReads
from operations import reads, services
from operations.exceptions import OperationNotFound
from operations.models import OperationPayload
from operations.states import OperationType
from operations.submission import submit

from . import operations as compat
from .http import CompatAPIView
from .operation_serializers import (
    CompatConsolidationSerializer,
    CompatErrorSerializer,
    CompatOperationActionSerializer,
    CompatOperationsListSerializer,
    CompatOperationStatusSerializer,
    CompatValidationErrorSerializer,
)
from .queries import OperationListQuery, OperationStatusQuery, validated_query

TAGS = ["Hindsight-compatible: operations"]
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 100


def act_on_operation(
    request: Request, bank_id: str, operation_id: str, done: str,
    action: Callable[[Bank, uuid.UUID], object],
) -> Response:
    """The shape of every compat action: visible bank, parsed id, one service call, the
    upstream ``{"success", "message", "operation_id"}`` answer."""
    bank = visible_bank(request, bank_id)
    op_id = compat.parse_operation_id(operation_id)
    action(bank, op_id)
    return Response(compat.action_response(op_id, f"Operation {op_id} {done}"))

class OperationListView(CompatAPIView):
    @extend_schema(
        operation_id="compat_list_operations",
        tags=TAGS,
        parameters=[OperationListQuery],
        responses={200: CompatOperationsListSerializer, 404: CompatErrorSerializer,
                   422: CompatValidationErrorSerializer},
    )
    def get(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        query = validated_query(OperationListQuery, request)  # exclude_parents: no children here
        limit, offset = query["limit"], query["offset"]
        operations = services.operations_for(bank)
        if "status" in query:
            operations = operations.filter(status__in=query["status"])
        if "type" in query:
            operations = operations.filter(type__in=query["type"])
        operations = operations.order_by("-created_at", "-id")
        rows = operations[offset : offset + limit]
        return Response({
            "bank_id": bank.bank_id,
            "total": operations.count(),
            "limit": limit,
            "offset": offset,
            "operations": [compat.operation_row(operation) for operation in rows],
        })


def status_answer(request: HttpRequest | Request, bank_id: str, operation_id: str,
                  include_payload: bool) -> HttpResponse | None:
    """``get_operation_status`` of a visible operation: one query by primary key with the bank
    joined. None when there is none (the bank alone is looked up then, to tell an unknown bank
    from an unknown id)."""
    try:
        op_id = compat.parse_operation_id(operation_id)
    except OperationNotFound:
        return None
    operation = reads.find_operation(bank_id, op_id, bank_scope(request))
    if operation is None:
        return None
    payload = None
    if include_payload:
        payload = (OperationPayload.objects.filter(operation=operation)
                   .values_list("data", flat=True).first())
    body = JSONRenderer().render(compat.operation_status(operation, payload))
    return HttpResponse(body, content_type="application/json")


class OperationDetailView(PlainReads, CompatAPIView):
    def plain_get(self, request: HttpRequest, bank_id: str,
                  operation_id: str) -> HttpResponse | None:
        # The poll as the official client sends it; a query string is validated by DRF's path.
        return None if request.GET else status_answer(request, bank_id, operation_id, False)

    @extend_schema(
        operation_id="compat_get_operation_status",
        tags=TAGS,
        parameters=[OperationStatusQuery],
        responses={200: CompatOperationStatusSerializer, 400: CompatErrorSerializer,
                   404: CompatErrorSerializer},
    )
    def get(self, request: Request, bank_id: str, operation_id: str) -> Response:
        # Reported in this order: the bank, the id, the query string.
        visible_bank(request, bank_id)
        op_id = compat.parse_operation_id(operation_id)
        include_payload = validated_query(OperationStatusQuery, request)["include_payload"]
        response = status_answer(request, bank_id, operation_id, include_payload)
        # Upstream answers 200 + "not_found" for an unknown id; the client's model allows it.
        return response or Response(compat.not_found_status(str(op_id)))

    @extend_schema(
        operation_id="compat_cancel_operation",
        tags=TAGS,
        request=None,
        responses={200: CompatOperationActionSerializer, 400: CompatErrorSerializer,
                   404: CompatErrorSerializer, 409: CompatErrorSerializer},
    )
    def delete(self, request: Request, bank_id: str, operation_id: str) -> Response:
        """Cancel (upstream's DELETE of an operation); 409 for any terminal status."""
        return act_on_operation(request, bank_id, operation_id, "cancelled",
                                lambda bank, op_id: services.cancel_operation(bank, op_id,
                                                                              strict=True))


class OperationRetryView(CompatAPIView):
    @extend_schema(
        operation_id="compat_retry_operation",
        tags=TAGS,
        request=None,
        responses={200: CompatOperationActionSerializer, 400: CompatErrorSerializer,
                   404: CompatErrorSerializer, 409: CompatErrorSerializer},
    )
    def post(self, request: Request, bank_id: str, operation_id: str) -> Response:
        return act_on_operation(request, bank_id, operation_id, "queued for retry",
                                services.retry_operation)


class OperationDeleteView(CompatAPIView):
    @extend_schema(
        operation_id="compat_delete_operation",
        tags=TAGS,
        request=None,
        responses={200: CompatOperationActionSerializer, 400: CompatErrorSerializer,
                   404: CompatErrorSerializer, 409: CompatErrorSerializer},
    )
    def delete(self, request: Request, bank_id: str, operation_id: str) -> Response:
        """Delete a terminal operation record (its memories stay); 409 while it is active."""
        return act_on_operation(request, bank_id, operation_id, "deleted",
                                services.delete_operation)



class ConsolidateView(CompatAPIView):
    @extend_schema(
        operation_id="compat_trigger_consolidation",
        tags=TAGS,
        request=None,
        responses={200: CompatConsolidationSerializer, 404: CompatErrorSerializer},
    )
    def post(self, request: Request, bank_id: str) -> Response:
        """Start a consolidation (``regenerate_observations``) of the bank. While an identical
        one is still pending, that one is returned with ``deduplicated: true``."""
        bank = visible_bank(request, bank_id)
        result = submit(bank, OperationType.REGENERATE_OBSERVATIONS, {})
        return Response({"operation_id": str(result.operation.pk),
                         "deduplicated": result.deduplicated})
