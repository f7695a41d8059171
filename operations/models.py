"""Operation rows: the truth about every piece of background work.

Status, progress and heartbeat fields are only ever written by ``operations.transitions``.
The payload lives in its own table so that list queries never load it.
"""

from __future__ import annotations

import uuid

from django.db import models

from .states import OperationStatus, OperationType


class Operation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, related_name="operations")
    type = models.CharField(max_length=32, choices=OperationType.choices)
    status = models.CharField(
        max_length=16, choices=OperationStatus.choices, default=OperationStatus.PENDING
    )

    # Progress, in the job's units; committed together with the results it counts.
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    failed_items_count = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=64, blank=True, default="")

    # Timeline.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    # Ownership and liveness.
    worker_id = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    lost_count = models.PositiveIntegerField(default=0)  # automatic re-runs after a lost worker

    # Scheduling (docs/scheduling.md). ``dispatched_at`` is when the scheduler handed the pending
    # operation to a runner (null: waiting for its turn); ``retry_count``/``next_retry_at``/
    # ``last_error`` describe automatic re-runs after transient errors.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    # Outcome.
    error = models.TextField(null=True, blank=True)  # noqa: DJ001  (docs/api.md 1.1: null unless failed)
    error_type = models.CharField(max_length=200, blank=True, default="")
    summary = models.JSONField(null=True, blank=True)  # small job-specific figures, never lists
    # The detail ``result`` of a terminal operation as JSON text, rendered once (it never changes
    # again) and served as is by every later poll; null while active and until first rendered.
    result_rendering = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001

    # Idempotent submission: same id + same body -> same operation.
    request_hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The hot list query: one bank, optional status filter, newest first, keyset cursor.
            models.Index(
                fields=["bank", "status", "created_at", "id"], name="op_bank_status_created"
            ),
            models.Index(fields=["bank", "created_at", "id"], name="op_bank_created"),
            # Cross-bank list and the reaper/outbox sweep (status + age).
            models.Index(fields=["status", "created_at", "id"], name="op_status_created"),
            models.Index(fields=["created_at", "id"], name="op_created"),
            # Fair dispatch: the oldest waiting operation of each bank, and running counts.
            models.Index(fields=["status", "bank", "created_at"], name="op_status_bank_created"),
            # The dashboard's windows (started / finished in the last hour, day, week): partial
            # (pending rows cost nothing) and covering every column its queries read, so a
            # week's 100,000 rows are read from the index alone (operations.dashboard).
            models.Index(fields=["started_at", "type", "created_at", "bank"], name="op_started",
                         condition=models.Q(started_at__isnull=False)),
            models.Index(fields=["completed_at", "type", "status", "progress", "started_at",
                                 "bank"], name="op_completed",
                         condition=models.Q(completed_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.status})"

    @property
    def retries(self) -> int:
        """Automatic re-runs: after transient errors plus after lost workers (``retry_count``
        on both surfaces)."""
        return self.retry_count + self.lost_count


class OperationPayload(models.Model):
    """The submitted input of an operation, kept out of the ``Operation`` row."""

    operation = models.OneToOneField(
        Operation, on_delete=models.CASCADE, primary_key=True, related_name="payload"
    )
    data = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"payload of {self.operation_id}"


class OperationItemFailure(models.Model):
    """A unit of work that could not be processed; the rest of the operation goes on."""

    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, related_name="item_failures"
    )
    index = models.PositiveIntegerField()
    error = models.TextField()

    class Meta:
        ordering = ["operation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "index"], name="failure_unique_item"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}[{self.index}]: {self.error}"


class WorkerPresence(models.Model):
    """One RQ worker process as the database sees it: whether it can reach Redis and how often it
    reconnected. Kept here, not in Redis, so that ``/health`` and ``/metrics`` can tell an
    operator that the workers are alive and waiting while Redis itself is gone. Written only by
    ``operations.presence``."""

    name = models.CharField(max_length=200, primary_key=True)  # the RQ worker name
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()  # advanced by the worker's sweeper every pass
    stopped_at = models.DateTimeField(null=True, blank=True)
    redis_down_since = models.DateTimeField(null=True, blank=True)  # null: Redis reachable
    redis_error = models.CharField(max_length=500, blank=True, default="")
    reconnects = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"worker {self.name} ({self.host}:{self.pid})"


# Webhook subscriptions and their outbox (issue 14), in their own module.
from .webhook_models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery  # noqa: E402

__all__ = [
    "DeliveryStatus", "Operation", "OperationItemFailure", "OperationPayload", "Webhook",
    "WebhookAttempt", "WebhookDelivery", "WorkerPresence",
]
