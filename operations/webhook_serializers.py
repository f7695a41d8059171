"""Shapes of the native webhook endpoints (docs/api.md 3.3). Input serializers only check
types; ``operations.webhook_services`` validates the meaning (events, URL, limits)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from . import webhooks
from .models import Webhook, WebhookDelivery


class HttpConfigSerializer(serializers.Serializer):
    method = serializers.ChoiceField(["POST", "GET"], required=False, allow_null=True)
    timeout_seconds = serializers.IntegerField(required=False, allow_null=True)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                    required=False, allow_null=True)
    params = serializers.DictField(child=serializers.CharField(allow_blank=True),
                                   required=False, allow_null=True)


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=4096, trim_whitespace=True)
    events = serializers.ListField(child=serializers.CharField(), required=False,
                                   allow_null=True, max_length=50)
    secret = serializers.CharField(required=False, allow_null=True, max_length=1000)
    enabled = serializers.BooleanField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True,
                                        max_length=1000)
    http_config = HttpConfigSerializer(required=False, allow_null=True)


class LastDeliverySerializer(serializers.Serializer):
    status = serializers.CharField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)


class WebhookSerializer(serializers.Serializer):
    webhook_id = serializers.UUIDField()
    bank_id = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    description = serializers.CharField()
    secret = serializers.CharField(allow_null=True,
                                   help_text="In full only in the answer to the create call.")
    http_config = HttpConfigSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_delivery = LastDeliverySerializer(allow_null=True)


class WebhookListSerializer(serializers.Serializer):
    webhooks = WebhookSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    delivery_id = serializers.UUIDField()
    webhook_id = serializers.UUIDField()
    event_id = serializers.CharField()
    event = serializers.CharField()
    operation_id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(["pending", "delivered", "failed"])
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    last_duration_ms = serializers.IntegerField(allow_null=True)
    last_response_body = serializers.CharField(allow_null=True, help_text="the first 1 KB")
    created_at = serializers.DateTimeField()


class DeliveryListSerializer(serializers.Serializer):
    deliveries = DeliverySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class PingResultSerializer(serializers.Serializer):
    delivered = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)


def webhook_data(hook: Webhook, last: WebhookDelivery | None = None,
                 reveal_secret: bool = False) -> dict[str, Any]:
    return {
        "webhook_id": str(hook.pk),
        "bank_id": hook.bank.bank_id,
        "url": hook.url,
        "events": list(hook.events),
        "enabled": hook.enabled,
        "description": hook.description,
        "secret": hook.secret if reveal_secret else webhooks.mask_secret(hook.secret),
        "http_config": hook.http_config,
        "created_at": webhooks.iso(hook.created_at),
        "updated_at": webhooks.iso(hook.updated_at),
        "last_delivery": None if last is None else {
            "status": last.status, "at": webhooks.iso(last.last_attempt_at),
            "status_code": last.last_status_code,
        },
    }


def delivery_data(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "delivery_id": str(row.pk),
        "webhook_id": str(row.webhook_id),
        "event_id": row.event_id,
        "event": row.event,
        "operation_id": str(row.operation_id) if row.operation_id else None,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": webhooks.iso(row.next_attempt_at) if row.status == "pending" else None,
        "last_attempt_at": webhooks.iso(row.last_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error or None,
        "last_duration_ms": row.last_duration_ms,
        "last_response_body": row.last_response_body if row.last_attempt_at else None,
        "created_at": webhooks.iso(row.created_at),
    }
