"""Webhook endpoints of the native API (docs/api.md 3.3). Thin: the bank through
``banks.access`` (another bank's webhook is a 404 like an unknown one), one service call,
the shape from ``webhook_serializers``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.access import visible_bank
from hindsight_project.pagination import paginate_newest_first

from . import webhook_services as services
from .models import Webhook
from .webhook_serializers import (
    DeliveryListSerializer,
    DeliverySerializer,
    PingResultSerializer,
    WebhookListSerializer,
    WebhookSerializer,
    WebhookWriteSerializer,
    delivery_data,
    webhook_data,
)

TAGS = ["webhooks"]


def _body(request: Request, partial: bool = False) -> dict:
    body = WebhookWriteSerializer(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return {key: value for key, value in body.validated_data.items()
            if key == "http_config" or value is not None or key == "events"}


def _hook(request: Request, bank_id: str, webhook_id: str) -> Webhook:
    return services.get_webhook(visible_bank(request, bank_id), webhook_id)


def _one(hook: Webhook, reveal_secret: bool = False) -> dict:
    return webhook_data(hook, services.last_deliveries([hook]).get(hook.pk), reveal_secret)


class WebhookListView(APIView):
    @extend_schema(operation_id="webhooks_list", tags=TAGS, responses=WebhookListSerializer)
    def get(self, request: Request, bank_id: str) -> Response:
        hooks = list(services.webhooks_of(visible_bank(request, bank_id)))
        latest = services.last_deliveries(hooks)
        return Response({"webhooks": [webhook_data(h, latest.get(h.pk)) for h in hooks]})

    @extend_schema(operation_id="webhooks_create", tags=TAGS, request=WebhookWriteSerializer,
                   responses={201: WebhookSerializer})
    def post(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        data = _body(request)
        hook = services.create_webhook(bank, data.pop("url"), **data)
        return Response(webhook_data(hook, reveal_secret=True), status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    @extend_schema(operation_id="webhooks_retrieve", tags=TAGS, responses=WebhookSerializer)
    def get(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        return Response(_one(_hook(request, bank_id, webhook_id)))

    @extend_schema(operation_id="webhooks_update", tags=TAGS, request=WebhookWriteSerializer,
                   responses=WebhookSerializer)
    def patch(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        hook = _hook(request, bank_id, webhook_id)
        hook = services.update_webhook(hook, **_body(request, partial=True))
        return Response(_one(hook))

    @extend_schema(operation_id="webhooks_delete", tags=TAGS, responses={204: None})
    def delete(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        services.delete_webhook(_hook(request, bank_id, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookPingView(APIView):
    @extend_schema(operation_id="webhooks_ping", tags=TAGS, request=None,
                   responses=PingResultSerializer)
    def post(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        result = services.ping(_hook(request, bank_id, webhook_id))
        return Response({"delivered": result.ok, "status_code": result.status_code,
                         "duration_ms": result.duration_ms, "error": result.error or None})


class DeliveryListView(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries", tags=TAGS, responses=DeliveryListSerializer,
        parameters=[
            OpenApiParameter("status", str, description="pending, delivered, failed (commas)"),
            OpenApiParameter("limit", int), OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        hook = _hook(request, bank_id, webhook_id)
        raw = request.query_params.getlist("status")
        statuses = [part.strip() for item in raw for part in item.split(",") if part.strip()]
        page = paginate_newest_first(services.deliveries_of(hook, statuses), request,
                                     f"webhook:{hook.pk}")
        return Response({"deliveries": [delivery_data(row) for row in page.rows],
                         "next_cursor": page.next_cursor})


class RedeliverView(APIView):
    @extend_schema(operation_id="webhooks_redeliver", tags=TAGS, request=None,
                   responses={202: DeliverySerializer})
    def post(self, request: Request, bank_id: str, webhook_id: str, delivery_id: str) -> Response:
        hook = _hook(request, bank_id, webhook_id)
        row = services.redeliver(services.get_delivery(hook, delivery_id))
        return Response(delivery_data(row), status=status.HTTP_202_ACCEPTED)
