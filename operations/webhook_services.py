"""Webhook use cases, called by every surface (native API, compatible API, admin, commands).

Validation lives here so both APIs refuse the same things: unknown events, URLs that are not
``http``/``https`` or that resolve to a private address (unless allowed), oversized fields, more
subscriptions than ``HINDSIGHT_MAX_WEBHOOKS_PER_BANK``. Errors are ``InvalidInput`` (field
errors) and ``LimitExceeded``; each surface renders them in its own shape.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from . import addresses, deliveries, webhooks
from .exceptions import DeliveryNotFound, InvalidInput, LimitExceeded, WebhookNotFound
from .models import Webhook, WebhookDelivery
from .webhook_models import DeliveryStatus

MAX_URL_LENGTH = 2048
MAX_HEADERS = 20
MAX_HEADER_VALUE = 1024
MAX_PARAMS = 20
MAX_SECRET_LENGTH = 200
MIN_SECRET_LENGTH = 8
MAX_DESCRIPTION = 500
FIELDS = ("url", "events", "secret", "enabled", "description", "http_config")


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput({"url": ["This field is required."]})
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput({"url": [f"Ensure this URL has at most {MAX_URL_LENGTH} characters."]})
    try:
        addresses.check_new(url, settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE)
    except addresses.UnsafeAddress as exc:
        raise InvalidInput({"url": [str(exc)]}) from None
    return url


def _check_events(events: object) -> list[str]:
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise InvalidInput({"events": ["Expected a list of event names."]})
    unknown = webhooks.unknown_events(events)
    if unknown:
        raise InvalidInput({"events": [
            f"Unknown event {', '.join(unknown)}; expected some of {', '.join(webhooks.EVENTS)}."
        ]})
    return list(dict.fromkeys(events))


def _check_string_map(value: object, field: str, limit: int) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput({field: ["Expected an object of strings."]})
    if len(value) > limit:
        raise InvalidInput({field: [f"At most {limit} entries."]})
    for name, text in value.items():
        if len(name) > 256 or len(text) > MAX_HEADER_VALUE or "\n" in text or "\r" in text:
            raise InvalidInput({field: [f"{name!r}: names up to 256 and values up to "
                                        f"{MAX_HEADER_VALUE} characters, on one line."]})
    return dict(value)


def _check_http_config(config: object) -> dict[str, Any] | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise InvalidInput({"http_config": ["Expected an object."]})
    method = (config.get("method") or "POST").upper()
    if method not in ("POST", "GET"):
        raise InvalidInput({"http_config": {"method": ["Must be POST or GET."]}})
    timeout = config.get("timeout_seconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)
                                or not 1 <= timeout <= deliveries.MAX_TIMEOUT):
        raise InvalidInput({"http_config": {"timeout_seconds": [
            f"Must be an integer from 1 to {deliveries.MAX_TIMEOUT:g}."]}})
    headers = _check_string_map(config.get("headers"), "http_config", MAX_HEADERS)
    reserved = [name for name in headers if name.lower() in deliveries.RESERVED_HEADERS
                or name.lower().startswith(deliveries.RESERVED_PREFIX)]
    if reserved:
        raise InvalidInput({"http_config": {"headers": [
            f"{', '.join(reserved)}: set by the delivery itself."]}})
    params = _check_string_map(config.get("params"), "http_config", MAX_PARAMS)
    return {"method": method, "timeout_seconds": timeout, "headers": headers or None,
            "params": params or None}


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidInput({"secret": [
            f"A secret is a string of {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters."]})
    return secret


def clean_fields(changes: dict[str, Any]) -> dict[str, Any]:
    """The given fields, validated and normalised (``InvalidInput`` naming each bad one)."""
    cleaned: dict[str, Any] = {}
    if "url" in changes:
        cleaned["url"] = _check_url(changes["url"])
    if "events" in changes:
        cleaned["events"] = _check_events(changes["events"])
    if changes.get("secret") is not None:
        cleaned["secret"] = _check_secret(changes["secret"])
    if changes.get("enabled") is not None:
        if not isinstance(changes["enabled"], bool):
            raise InvalidInput({"enabled": ["Must be a boolean."]})
        cleaned["enabled"] = changes["enabled"]
    if changes.get("description") is not None:
        description = changes["description"]
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidInput({"description": [f"At most {MAX_DESCRIPTION} characters."]})
        cleaned["description"] = description
    if "http_config" in changes:
        cleaned["http_config"] = _check_http_config(changes["http_config"])
    return cleaned


# --- Subscriptions ------------------------------------------------------------------------------


def webhooks_of(bank: Any) -> QuerySet[Webhook]:
    return Webhook.objects.filter(bank=bank).select_related("bank").order_by("created_at", "id")


def get_webhook(bank: Any, webhook_id: object) -> Webhook:
    try:
        pk = uuid.UUID(str(webhook_id))
    except ValueError:
        raise WebhookNotFound(webhook_id) from None
    hook = webhooks_of(bank).filter(pk=pk).first()
    if hook is None:
        raise WebhookNotFound(webhook_id)
    return hook


def create_webhook(bank: Any, url: object, **fields: Any) -> Webhook:
    """A new subscription; a secret is generated when none is given (shown in full only in
    the answer to this call)."""
    cleaned = clean_fields({"url": url, **{k: v for k, v in fields.items() if k in FIELDS}})
    cleaned.setdefault("secret", webhooks.new_secret())
    limit = settings.HINDSIGHT_MAX_WEBHOOKS_PER_BANK
    with transaction.atomic():
        if Webhook.objects.filter(bank=bank).count() >= limit:
            raise LimitExceeded("HINDSIGHT_MAX_WEBHOOKS_PER_BANK", limit,
                                f"A bank may have at most {limit} webhooks.")
        return Webhook.objects.create(bank=bank, **cleaned)


def update_webhook(hook: Webhook, **changes: Any) -> Webhook:
    """Change any field; a new ``secret`` rotates it."""
    cleaned = clean_fields({k: v for k, v in changes.items() if k in FIELDS})
    for name, value in cleaned.items():
        setattr(hook, name, value)
    hook.save()
    return hook


def delete_webhook(hook: Webhook) -> None:
    hook.delete()


def last_deliveries(hooks: list[Webhook]) -> dict[uuid.UUID, WebhookDelivery]:
    """The newest finished-or-pending delivery of each subscription (one query per hook,
    bounded by the per-bank limit)."""
    latest = {}
    for hook in hooks:
        row = (WebhookDelivery.objects.filter(webhook=hook, last_attempt_at__isnull=False)
               .order_by("-last_attempt_at").first())
        if row is not None:
            latest[hook.pk] = row
    return latest


# --- Deliveries ---------------------------------------------------------------------------------


def deliveries_of(hook: Webhook, statuses: list[str] | None = None) -> QuerySet[WebhookDelivery]:
    rows = WebhookDelivery.objects.filter(webhook=hook)
    if statuses:
        unknown = sorted(set(statuses) - set(DeliveryStatus.values))
        if unknown:
            raise InvalidInput({"status": [
                f"Unknown status {', '.join(unknown)}; expected some of "
                f"{', '.join(DeliveryStatus.values)}."]})
        rows = rows.filter(status__in=statuses)
    return rows


def get_delivery(hook: Webhook, delivery_id: object) -> WebhookDelivery:
    try:
        pk = uuid.UUID(str(delivery_id))
    except ValueError:
        raise DeliveryNotFound(delivery_id) from None
    row = WebhookDelivery.objects.filter(webhook=hook, pk=pk).first()
    if row is None:
        raise DeliveryNotFound(delivery_id)
    return row


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """A new attempt series of the same event (same ``event_id`` and body), sent by the next
    pass of a delivery loop."""
    with transaction.atomic():
        row = webhooks.redeliver(delivery)
        transaction.on_commit(webhooks.WAKE.set)
    return row


def ping(hook: Webhook) -> deliveries.AttemptResult:
    return deliveries.ping(hook)
