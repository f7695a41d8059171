"""Operation endpoints of the native API (docs/api.md 1.2). Thin: look up, call a service,
serialize. Errors are raised as domain exceptions and rendered by ``api_errors``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from banks.access import bank_scope, visible_bank, visible_banks
from banks.models import Bank
from hindsight_project.admission import PlainReads
from hindsight_project.pagination import (
    Page,
    cursor_after,
    paginate_newest_first,
    parse_page,
)

from . import poll_bodies, reads, services
from .exceptions import InvalidOperationId, OperationNotFound
from .filters import CrossBankOperationFilterSet, OperationFilterSet
from .models import Operation
from .reads import PageRequest
from .serializers import (
    BulkCancelResultSerializer,
    BulkCancelSerializer,
    DetailView,
    OperationListSerializer,
    OperationSerializer,
    SubmitOperationSerializer,
    SubmittedOperationSerializer,
    render_detail,
    render_list,
    render_list_row,
)
from .states import OperationStatus, OperationType, is_terminal
from .submission import operation_id_for_key, submit


def parse_wait(request: Request) -> float:
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        raise ValidationError({"wait": ["A number of seconds is required."]}) from None
    if not 0 <= wait <= settings.HINDSIGHT_MAX_WAIT_SECONDS:
        raise ValidationError(
            {"wait": [f"Must be between 0 and {settings.HINDSIGHT_MAX_WAIT_SECONDS} seconds."]}
        )
    return wait


SIMPLE_LIST_PARAMS = frozenset({"status", "type", "limit", "offset", "cursor"})
CHOICES = {"status": frozenset(OperationStatus.values), "type": frozenset(OperationType.values)}


def simple_filters(params: Any) -> dict[str, list[str]] | None:
    """The lookups of the common list query (valid ``status``/``type`` values, paging), applied
    without building the filter set's form (a third of a list request's time); None for anything
    else, which goes through the filter set and its error messages."""
    if not params.keys() <= SIMPLE_LIST_PARAMS:
        return None
    lookups = {}
    for name, choices in CHOICES.items():
        values = [part.strip() for raw in params.getlist(name) for part in raw.split(",")
                  if part.strip()]
        if not values:
            continue
        if not choices.issuperset(values):
            return None
        lookups[f"{name}__in"] = values
    return lookups


def operation_location(operation: Operation) -> str:
    return reverse(
        "api-operation-detail",
        kwargs={"bank_id": operation.bank.bank_id, "operation_id": str(operation.pk)},
    )


def submission_response(operation: Operation, created: bool,
                        deduplicated: bool = False) -> Response:
    data = OperationSerializer(operation, context={"full_result": True}).data
    # True: an identical pending maintenance operation was returned instead of a new one.
    data["deduplicated"] = deduplicated
    code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    return Response(data, status=code, headers={"Location": operation_location(operation)})


def json_response(body: bytes) -> HttpResponse:
    # What DRF's JSONRenderer answers, without a Response's negotiation and re-encoding.
    return HttpResponse(body, content_type="application/json")


def list_response(bank_id: str | None, page: Page) -> HttpResponse:
    rows = [render_list_row(row) for row in page.rows]
    return json_response(render_list(bank_id, page.limit, page.offset, page.total,
                                     page.next_cursor, rows))


def common_list(request: HttpRequest | Request, bank_id: str) -> HttpResponse | None:
    """The common list query (a status/type filter, a page) of a visible bank: prepared SQL,
    one statement for an offset page, and terminal rows rendered once per version (a third
    of the cost, then a tenth). None for anything else."""
    lookups = simple_filters(request.GET)
    if lookups is None:
        return None
    statuses, types = lookups.get("status__in", ()), lookups.get("type__in", ())
    visible = bank_scope(request)
    if not request.GET.get("cursor"):
        wanted = parse_page(request, "")  # no cursor to check against the bank
        found = reads.offset_page(bank_id, visible, wanted, render_list_row, statuses, types)
        if found is not None:
            bank, page = found
            return page_response(bank_id, wanted, page, f"bank:{bank.pk}")
    bank = reads.find_bank(bank_id, visible)
    if bank is None:
        return None
    scope = f"bank:{bank.pk}"
    wanted = parse_page(request, scope)
    page = reads.list_page(bank, wanted, render_list_row, statuses, types)
    return page_response(bank_id, wanted, page, scope)


def page_response(bank_id: str, wanted: PageRequest, page: reads.RenderedPage,
                  scope: str) -> HttpResponse:
    return json_response(render_list(bank_id, wanted.limit, wanted.offset, page.total,
                                     cursor_after(page.after, scope), page.rows))


def poll_answer(request: HttpRequest | Request, bank_id: str, operation_id: str,
                view: DetailView) -> HttpResponse | None:
    """The status poll without a wait: a ``304`` decided on a one-column read, and so is a
    terminal version's kept body (``poll_bodies``); else one query by primary key and the
    stored rendering of a terminal result. None when the operation is not found (the caller
    reports why)."""
    known = request.META.get("HTTP_IF_NONE_MATCH")
    scope = bank_scope(request)
    try:
        pk = reads.parse_operation_id(operation_id, bank_id)
        if known or poll_bodies.kept(pk):
            etag = reads.current_version_tag(bank_id, pk, scope, view.variant)
            if etag is None:
                return None
            if etag == known:
                return HttpResponseNotModified(headers={"ETag": etag})
            body = poll_bodies.body_for(etag)
            if body is not None:
                return detail_response(body, etag)
        operation = reads.find_operation(bank_id, pk, scope,
                                         with_rendering=known is None and view.full_result)
    except InvalidOperationId:
        return None
    return None if operation is None else operation_answer(operation, view, known)


def detail_response(body: bytes, etag: str) -> HttpResponse:
    response = json_response(body)
    response["ETag"] = etag
    return response


def operation_answer(operation: Operation, view: DetailView, known: str | None) -> HttpResponse:
    etag = services.version_tag(operation, view.variant)
    if known == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    terminal = is_terminal(operation.status)
    rendering = None
    if view.full_result and terminal:
        rendering = services.result_rendering(operation)
    body = render_detail(operation, view, rendering)
    if terminal:
        poll_bodies.keep(operation.pk, etag, body)
    return detail_response(body, etag)


class BankOperationViewSet(PlainReads, viewsets.GenericViewSet):
    queryset = Operation.objects.none()  # real queryset is per bank: get_queryset()
    serializer_class = OperationSerializer
    filterset_class = OperationFilterSet

    def get_bank(self) -> Bank:
        if not hasattr(self, "_bank"):
            self._bank = visible_bank(self.request, self.kwargs["bank_id"])
        return self._bank

    def get_queryset(self):
        return services.operations_for(self.get_bank())

    def plain_get(self, request: HttpRequest, bank_id: str,
                  operation_id: str | None = None) -> HttpResponse | None:
        if self.action_map.get("get") == "retrieve":
            if "wait" in request.GET:
                return None  # a long-poll parks a thread: DRF's path, with its limits
            return poll_answer(request, bank_id, operation_id,
                               DetailView.from_query(request.GET))
        return common_list(request, bank_id)

    @extend_schema(responses=OperationListSerializer)
    def list(self, request: Request, bank_id: str) -> HttpResponse:
        response = common_list(request, bank_id)
        if response is not None:
            return response
        # Anything but the common query: the filter set and its messages.
        bank = self.get_bank()
        page = paginate_newest_first(
            self.filter_queryset(self.get_queryset()), request, f"bank:{bank.pk}")
        return list_response(bank.bank_id, page)

    @extend_schema(request=SubmitOperationSerializer,
                   responses={202: SubmittedOperationSerializer, 200: SubmittedOperationSerializer})
    def create(self, request: Request, bank_id: str) -> Response:
        bank = self.get_bank()
        body = SubmitOperationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        op_type, op_id = data.pop("type"), data.pop("operation_id", None)
        key = request.headers.get("Idempotency-Key")
        if op_id is None and key:
            op_id = operation_id_for_key(bank, key)
        result = submit(bank, op_type, data, op_id)
        return submission_response(result.operation, result.created, result.deduplicated)

    @extend_schema(
        parameters=[
            OpenApiParameter("wait", float, description="long-poll seconds (<= 60)"),
            OpenApiParameter("fields", str, description=(
                "comma-separated top-level fields to return (default: all)")),
            OpenApiParameter("result", str, enum=["full", "summary"], description=(
                "summary: the list rows' small result instead of the arrays")),
        ],
        responses={200: OperationSerializer, 304: None, 429: None},
    )
    def retrieve(self, request: Request, bank_id: str, operation_id: str) -> HttpResponse:
        """The status poll: one query by primary key, a ``304`` straight from the row's version,
        and a terminal result sent from its stored rendering."""
        view = DetailView.from_query(request.query_params)
        wait = parse_wait(request)
        if not wait:
            response = poll_answer(request, bank_id, operation_id, view)
            if response is not None:
                return response
        known = request.headers.get("If-None-Match")
        try:
            operation = reads.find_operation(bank_id, operation_id, bank_scope(request))
        except InvalidOperationId:
            visible_bank(request, bank_id)  # an unknown bank is reported first
            raise
        if operation is None:
            bank = visible_bank(request, bank_id)
            raise OperationNotFound(reads.parse_operation_id(operation_id), bank.bank_id)
        if wait and known == services.version_tag(operation, view.variant):
            waited = services.wait_for_change(operation, wait)
            if waited is None:
                raise Throttled(wait=1, detail=(
                    "Too many long-polls are waiting in this server process "
                    f"(HINDSIGHT_MAX_WAITERS={settings.HINDSIGHT_MAX_WAITERS}); retry shortly, "
                    "or poll without wait."))
            operation = waited
        return operation_answer(operation, view, known)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, bank_id: str, operation_id: str) -> Response:
        services.delete_operation(self.get_bank(), operation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=OperationSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, bank_id: str, operation_id: str) -> Response:
        operation = services.cancel_operation(self.get_bank(), operation_id)
        return Response(OperationSerializer(operation, context={"full_result": True}).data)

    @extend_schema(request=None, responses={202: OperationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, bank_id: str, operation_id: str) -> Response:
        operation = services.retry_operation(self.get_bank(), operation_id)
        data = OperationSerializer(operation, context={"full_result": True}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=BulkCancelSerializer, responses=BulkCancelResultSerializer,
        operation_id="banks_operations_bulk_cancel",
    )
    @action(detail=False, methods=["post"], url_path="cancel")
    def bulk_cancel(self, request: Request, bank_id: str) -> Response:
        body = BulkCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = services.cancel_operations(
            self.get_bank(), body.validated_data.get("operation_ids"),
            body.validated_data.get("status"),
        )
        return Response(outcome.as_dict())


class OperationViewSet(viewsets.GenericViewSet):
    """``GET /api/operations/``: every bank the caller may see, newest first."""

    queryset = Operation.objects.none()
    serializer_class = OperationSerializer
    filterset_class = CrossBankOperationFilterSet

    def get_queryset(self):
        return services.operations_for(visible_banks(self.request))

    @extend_schema(responses=OperationListSerializer)
    def list(self, request: Request) -> Response:
        scope = getattr(request.auth, "cursor_scope", "all")
        page = paginate_newest_first(self.filter_queryset(self.get_queryset()), request, scope)
        return list_response(None, page)
