"""Webhook endpoints of the Hindsight-compatible surface (docs/api.md 3.4), for
``client.webhooks.*`` of the official clients. A translation layer over the same
``operations.webhook_services`` as the native API: ``event_types`` <-> ``events``, the upstream
``WebhookResponse`` / ``WebhookDeliveryResponse`` shapes, errors as 422 entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from banks.access import visible_bank
from hindsight_project.pagination import paginate_newest_first
from operations import webhook_services as services
from operations import webhooks
from operations.exceptions import InvalidInput
from operations.models import Webhook, WebhookDelivery

from .bank_serializers import CompatDeleteSerializer
from .http import CompatAPIView, validated_body
from .operation_serializers import CompatErrorSerializer, CompatValidationErrorSerializer
from .queries import QueryInteger, validated_query

TAGS = ["Hindsight-compatible: webhooks"]
ERRORS = {404: CompatErrorSerializer, 422: CompatValidationErrorSerializer}
DEFAULT_TIMEOUT = 30  # upstream's WebhookHttpConfig default


class CompatHttpConfigSerializer(serializers.Serializer):
    method = serializers.CharField(required=False, allow_null=True)
    timeout_seconds = serializers.IntegerField(required=False, allow_null=True)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                    required=False, allow_null=True)
    params = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                   required=False, allow_null=True)


class CompatWebhookWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=4096)
    secret = serializers.CharField(required=False, allow_null=True, max_length=1000)
    event_types = serializers.ListField(child=serializers.CharField(), required=False,
                                        allow_null=True, max_length=50)
    enabled = serializers.BooleanField(required=False, allow_null=True)
    http_config = CompatHttpConfigSerializer(required=False, allow_null=True)


class CompatWebhookSerializer(serializers.Serializer):
    id = serializers.CharField()
    bank_id = serializers.CharField(allow_null=True)
    url = serializers.CharField()
    secret = serializers.CharField(allow_null=True, help_text="masked")
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    http_config = CompatHttpConfigSerializer(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)


class CompatWebhookListSerializer(serializers.Serializer):
    items = CompatWebhookSerializer(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class CompatDeliverySerializer(serializers.Serializer):
    id = serializers.CharField()
    event_id = serializers.CharField(allow_null=True)
    webhook_id = serializers.CharField(allow_null=True)
    url = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    next_retry_at = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    last_response_status = serializers.IntegerField(allow_null=True)
    last_response_body = serializers.CharField(allow_null=True)
    last_attempt_at = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)


class CompatDeliveryListSerializer(serializers.Serializer):
    items = CompatDeliverySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class WebhookListQuery(serializers.Serializer):
    limit = QueryInteger(default=100, min_value=0, max_value=1000)
    offset = QueryInteger(default=0, min_value=0)


class DeliveryListQuery(serializers.Serializer):
    limit = QueryInteger(default=50, min_value=1, max_value=200)
    cursor = serializers.CharField(required=False, allow_blank=True)


def webhook_response(hook: Webhook) -> dict[str, Any]:
    config = hook.http_config or {}
    return {
        "id": str(hook.pk),
        "bank_id": hook.bank.bank_id,
        "url": hook.url,
        "secret": webhooks.mask_secret(hook.secret),
        "event_types": list(hook.events),
        "enabled": hook.enabled,
        "http_config": {
            "method": config.get("method") or "POST",
            "timeout_seconds": config.get("timeout_seconds") or DEFAULT_TIMEOUT,
            "headers": config.get("headers") or {},
            "params": config.get("params") or {},
        },
        "created_at": webhooks.iso(hook.created_at),
        "updated_at": webhooks.iso(hook.updated_at),
    }


def delivery_response(row: WebhookDelivery, hook: Webhook) -> dict[str, Any]:
    return {
        "id": str(row.pk),
        "event_id": row.event_id,
        "webhook_id": str(row.webhook_id),
        "url": hook.url,
        "event_type": row.event,
        "status": row.status,
        "attempts": row.attempts,
        "next_retry_at": webhooks.iso(row.next_attempt_at) if row.status == "pending" else None,
        "last_error": row.last_error or None,
        "last_response_status": row.last_status_code,
        "last_response_body": row.last_response_body or None,
        "last_attempt_at": webhooks.iso(row.last_attempt_at),
        "created_at": webhooks.iso(row.created_at),
        "updated_at": webhooks.iso(row.updated_at),
    }


def _fields(request: Request) -> dict[str, Any]:
    """The body as service keyword arguments (``event_types`` -> ``events``; an explicit null
    means "not given", as the client sends null for every field it was not given)."""
    body = CompatWebhookWriteSerializer(data=request.data, partial=request.method == "PATCH")
    data = dict(validated_body(body))
    fields = {key: value for key, value in data.items() if value is not None}
    if "event_types" in fields:
        fields["events"] = fields.pop("event_types")
    return fields


def _translated(call: Callable[[], Any]) -> Any:
    """Field errors of the service named as this surface names the fields."""
    try:
        return call()
    except InvalidInput as exc:
        errors = {("event_types" if key == "events" else key): value
                  for key, value in exc.errors.items()}
        raise ValidationError({"body": errors}) from None


class CompatWebhookListView(CompatAPIView):
    @extend_schema(operation_id="compat_list_webhooks", tags=TAGS, parameters=[WebhookListQuery],
                   responses={200: CompatWebhookListSerializer, **ERRORS})
    def get(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        query = validated_query(WebhookListQuery, request)
        hooks = services.webhooks_of(bank)
        limit, offset = query["limit"], query["offset"]
        return Response({
            "items": [webhook_response(h) for h in hooks[offset : offset + limit]],
            "total": hooks.count(), "limit": limit, "offset": offset,
        })

    @extend_schema(operation_id="compat_create_webhook", tags=TAGS,
                   request=CompatWebhookWriteSerializer,
                   responses={201: CompatWebhookSerializer, **ERRORS})
    def post(self, request: Request, bank_id: str) -> Response:
        bank = visible_bank(request, bank_id)
        fields = _fields(request)
        hook = _translated(lambda: services.create_webhook(bank, fields.pop("url"), **fields))
        return Response(webhook_response(hook), status=201)


class CompatWebhookDetailView(CompatAPIView):
    @extend_schema(operation_id="compat_update_webhook", tags=TAGS,
                   request=CompatWebhookWriteSerializer,
                   responses={200: CompatWebhookSerializer, **ERRORS})
    def patch(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        hook = services.get_webhook(visible_bank(request, bank_id), webhook_id)
        fields = _fields(request)
        return Response(webhook_response(_translated(
            lambda: services.update_webhook(hook, **fields))))

    @extend_schema(operation_id="compat_delete_webhook", tags=TAGS, request=None,
                   responses={200: CompatDeleteSerializer, **ERRORS})
    def delete(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        hook = services.get_webhook(visible_bank(request, bank_id), webhook_id)
        services.delete_webhook(hook)
        return Response({"success": True, "message": f"Webhook {webhook_id} deleted",
                         "deleted_count": 1})


class CompatWebhookDeliveriesView(CompatAPIView):
    @extend_schema(operation_id="compat_list_webhook_deliveries", tags=TAGS,
                   parameters=[DeliveryListQuery],
                   responses={200: CompatDeliveryListSerializer, **ERRORS})
    def get(self, request: Request, bank_id: str, webhook_id: str) -> Response:
        hook = services.get_webhook(visible_bank(request, bank_id), webhook_id)
        validated_query(DeliveryListQuery, request)
        try:
            page = paginate_newest_first(services.deliveries_of(hook), request,
                                         f"webhook:{hook.pk}")
        except ValidationError as exc:
            raise ValidationError({"query": exc.detail}) from None
        return Response({"items": [delivery_response(row, hook) for row in page.rows],
                         "next_cursor": page.next_cursor})
