"""Webhook subscriptions and their outbox (docs/webhooks.md).

A ``WebhookDelivery`` row is written in the same transaction as the terminal transition it
announces (``operations.webhooks``); delivery loops claim due rows by compare-and-set
(``operations.deliveries``) and log every attempt as a ``WebhookAttempt``. Rows, not a queue:
a delivery survives any restart.
"""

from __future__ import annotations

import uuid

from django.db import models


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2048)
    # Event names; empty means every ``operation.*`` event.
    events = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=500, blank=True, default="")
    # The compatible surface's ``http_config``: method, timeout_seconds, headers, params.
    http_config = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["bank", "enabled"], name="webhook_bank_enabled")]

    def __str__(self) -> str:
        return f"{self.url} ({self.bank_id})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event for one subscription: an attempt series ending ``delivered`` or ``failed``.

    ``next_attempt_at`` is when a loop may claim it; claiming pushes it one lease ahead and sets
    a fresh ``claim_token``, so a deliverer that dies after sending is re-sent by another once
    the lease runs out (at-least-once), and a late recorder whose lease was taken over writes
    nothing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, db_index=True)
    event = models.CharField(max_length=64)
    # Not a foreign key: the log outlives pruned operations.
    operation_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=64, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The delivery loop's claim query: due pending rows, oldest due first.
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            # A subscription's log, newest first, keyset cursor.
            models.Index(fields=["webhook", "created_at", "id"], name="delivery_webhook_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} -> {self.webhook_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery, as the receiver answered it."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")  # the first 1 KB

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"
