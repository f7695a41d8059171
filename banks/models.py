"""Banks and the memories they hold. Fields, constraints and indexes only; workflows live in
``banks.services``."""

from __future__ import annotations

import uuid

from django.db import models


class Bank(models.Model):
    """A memory bank, addressed by the caller's own ``bank_id`` string."""

    bank_id = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=256, blank=True, default="")
    mission = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bank_id"]

    def __str__(self) -> str:
        return self.bank_id


class Memory(models.Model):
    """One retained item. ``(operation, item_index)`` is what makes a batch exactly-once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="memories")
    content = models.TextField()
    context = models.TextField(blank=True, default="")
    timestamp = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    # NULL means "no document", distinct from an empty id; the wire format has null too.
    document_id = models.CharField(max_length=512, null=True, blank=True)  # noqa: DJ001
    # Deleting an operation record keeps its memories (API.md §1.2), hence SET_NULL.
    operation = models.ForeignKey(
        "operations.Operation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="memories",
    )
    item_index = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "item_index"], name="memory_unique_operation_item"
            ),
        ]
        indexes = [
            # GET /api/banks/{bank}/memories/ (newest first) and ?document_id=.
            models.Index(fields=["bank", "created_at", "id"], name="memory_bank_created"),
            models.Index(fields=["bank", "document_id"], name="memory_bank_document"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_id}:{self.id}"

from .apikeys import ApiKey  # noqa: E402, F401  (registers the model with the banks app)
