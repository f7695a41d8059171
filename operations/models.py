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

    # Outcome.
    error = models.TextField(null=True, blank=True)  # noqa: DJ001  (docs/api.md 1.1: null unless failed)
    error_type = models.CharField(max_length=200, blank=True, default="")
    summary = models.JSONField(null=True, blank=True)  # small job-specific figures, never lists

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
