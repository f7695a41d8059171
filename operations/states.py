"""The one status vocabulary of the product, and the table of legal transitions.

    pending ──claim──> running ──> completed | failed | cancelled
    pending ──cancel─> cancelled
    running ──reap───> pending            (worker lost; resumes from committed progress)
    failed | cancelled ──retry──> pending

Queue statuses (RQ's ``queued``, ``started``, ``canceled``...) never leave the executor module.
"""

from __future__ import annotations

from django.db import models


class OperationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class OperationType(models.TextChoices):
    BATCH_RETAIN = "batch_retain", "Batch retain"
    REGENERATE_OBSERVATIONS = "regenerate_observations", "Regenerate observations"
    GRAPH_UPDATE = "graph_update", "Graph update"
    FILE_RETAIN = "file_retain", "File retain"


ACTIVE: frozenset[str] = frozenset({OperationStatus.PENDING, OperationStatus.RUNNING})
TERMINAL: frozenset[str] = frozenset(
    {OperationStatus.COMPLETED, OperationStatus.FAILED, OperationStatus.CANCELLED}
)
RETRYABLE: frozenset[str] = frozenset({OperationStatus.FAILED, OperationStatus.CANCELLED})

# to-state -> the from-states a compare-and-set may move out of.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    OperationStatus.RUNNING: frozenset({OperationStatus.PENDING}),
    OperationStatus.COMPLETED: frozenset({OperationStatus.RUNNING}),
    OperationStatus.FAILED: frozenset({OperationStatus.RUNNING}),
    OperationStatus.CANCELLED: ACTIVE,
    OperationStatus.PENDING: RETRYABLE | {OperationStatus.RUNNING},
}


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def parse_statuses(raw: list[str]) -> list[str]:
    """Split comma-separated values; raise ``ValueError`` naming any unknown status."""
    values = [part.strip() for item in raw for part in item.split(",") if part.strip()]
    unknown = sorted(set(values) - set(OperationStatus.values))
    if unknown:
        raise ValueError(
            f"unknown status {', '.join(unknown)}; expected one of "
            f"{', '.join(OperationStatus.values)}"
        )
    return values
