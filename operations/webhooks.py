"""Webhook events: which ones exist, the payload a receiver gets, the outbox write, signatures.

``record_terminal`` is called by ``operations.transitions`` inside the transaction of every
terminal transition: the delivery rows commit with the status change or not at all, and nothing
is sent here (``operations.deliveries`` does that, in its own loop). Signatures are the public
Hindsight server's, so receivers written for it verify ours unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from uuid_utils import uuid7

from .models import Operation, Webhook, WebhookDelivery
from .states import OperationStatus, OperationType

S = OperationStatus

OPERATION_EVENTS = ("operation.completed", "operation.failed", "operation.cancelled")
# The public server's names for "this kind of operation completed" (one event per operation).
TYPE_EVENTS = {
    OperationType.BATCH_RETAIN: "retain.completed",
    OperationType.REGENERATE_OBSERVATIONS: "consolidation.completed",
}
EVENTS = (*OPERATION_EVENTS, *TYPE_EVENTS.values())
PING = "ping"
SECRET_PREFIX = "whsec_"
# Set when this process commits new deliveries; its delivery loop waits on it between polls.
WAKE = threading.Event()


def _fresh_wake_in_child() -> None:
    """A forked child (an RQ work-horse) gets its own event: the parent's delivery loop may
    have held the old one's lock at the moment of the fork, and the child would block on it."""
    global WAKE
    WAKE = threading.Event()


os.register_at_fork(after_in_child=_fresh_wake_in_child)


def new_event_id() -> str:
    """Time-ordered, so receivers and the log sort events the way they happened."""
    return f"evt_{uuid7().hex}"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def mask_secret(secret: str) -> str | None:
    """What every answer after creation shows of a secret: its prefix and last four characters."""
    if not secret:
        return None
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def unknown_events(events: Iterable[str]) -> list[str]:
    return sorted(set(events) - set(EVENTS))


def events_for(operation_type: str, status: str) -> list[str]:
    names = [f"operation.{status}"]
    if status == S.COMPLETED and operation_type in TYPE_EVENTS:
        names.append(TYPE_EVENTS[operation_type])
    return names


def subscribed(webhook_events: list[str], event: str) -> bool:
    """An empty list subscribes to every ``operation.*`` event (not to the type events)."""
    if not webhook_events:
        return event in OPERATION_EVENTS
    return event in webhook_events


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def operation_payload(operation: Operation, event: str, event_id: str) -> dict[str, Any]:
    summary = operation.summary or {}
    data: dict[str, Any] = {
        "type": operation.type,
        "progress": operation.progress,
        "total": operation.total,
        "memory_count": summary.get("memory_count"),
        "failed_items_count": operation.failed_items_count,
        "error": operation.error,
        "started_at": iso(operation.started_at),
        "completed_at": iso(operation.completed_at),
    }
    return {
        "event_id": event_id,
        "event": event,
        "bank_id": operation.bank.bank_id,
        "operation_id": str(operation.pk),
        "status": operation.status,
        "timestamp": iso(operation.completed_at or timezone.now()),
        "data": data,
    }


def ping_payload(webhook: Webhook, event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event": PING,
        "bank_id": webhook.bank.bank_id,
        "operation_id": None,
        "status": None,
        "timestamp": iso(timezone.now()),
        "data": {"webhook_id": str(webhook.pk)},
    }


def record_terminal(operation_ids: Iterable[object]) -> int:
    """Write the delivery rows announcing that these operations reached their (terminal)
    status. Must run inside the transition's transaction; returns the rows written.

    With no enabled subscription on the operations' banks this is one indexed query."""
    operation_ids = list(operation_ids)
    if not operation_ids:
        return 0
    hooks = list(
        Webhook.objects.filter(enabled=True, bank__operations__pk__in=operation_ids).distinct()
    )
    if not hooks:
        return 0
    now = timezone.now()
    rows = []
    operations = Operation.objects.select_related("bank").filter(
        pk__in=operation_ids, bank_id__in={hook.bank_id for hook in hooks}
    )
    for operation in operations:
        for event in events_for(operation.type, operation.status):
            for hook in hooks:
                if hook.bank_id != operation.bank_id or not subscribed(hook.events, event):
                    continue
                event_id = new_event_id()
                rows.append(WebhookDelivery(
                    webhook=hook, event_id=event_id, event=event, operation_id=operation.pk,
                    payload=operation_payload(operation, event, event_id), next_attempt_at=now,
                ))
    WebhookDelivery.objects.bulk_create(rows)
    if rows:
        # This process's delivery loop need not wait for its next poll.
        transaction.on_commit(WAKE.set)
    return len(rows)


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """A new attempt series for the same event: same ``event_id`` and body, a new row."""
    return WebhookDelivery.objects.create(
        webhook_id=delivery.webhook_id, event_id=delivery.event_id, event=delivery.event,
        operation_id=delivery.operation_id, payload=delivery.payload,
        next_attempt_at=timezone.now(),
    )


# --- Signatures ---------------------------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=False).encode()


def signature_headers(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    """``X-Hindsight-Signature`` (= ``X-Hub-Signature-256``): HMAC-SHA256 of the raw body;
    ``X-Hindsight-Signature-V2``: ``t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">``, which lets a
    receiver refuse replays of an old request."""
    if not secret:
        return {}
    at = int(time.time()) if at is None else at
    key = secret.encode()
    plain = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    stamped = hmac.new(key, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Hindsight-Signature": plain,
        "X-Hub-Signature-256": plain,
        "X-Hindsight-Signature-V2": f"t={at},v1={stamped}",
    }


def prune_finished(cutoff: datetime, batch: int = 1000) -> int:
    """Delete delivered and failed deliveries (with their attempts) created before ``cutoff``,
    in short batches; pending ones are never pruned. Returns how many were deleted."""
    deleted = 0
    finished = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(status="pending")
    while True:
        ids = list(finished.values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        WebhookDelivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
