"""The words of the Hindsight-compatible surface: its names for statuses and operation types,
its timestamps, and the message of a refused transition. Imports nothing of this package, so
the translations, the views and the error shapes can all use it."""

from __future__ import annotations

from datetime import UTC, datetime

from operations.states import OperationStatus, OperationType

STATUS_TO_COMPAT: dict[str, str] = {
    OperationStatus.PENDING: "pending",
    OperationStatus.RUNNING: "processing",
    OperationStatus.COMPLETED: "completed",
    OperationStatus.FAILED: "failed",
    OperationStatus.CANCELLED: "cancelled",
}
STATUS_FROM_COMPAT: dict[str, str] = {name: status for status, name in STATUS_TO_COMPAT.items()}

TYPE_TO_COMPAT: dict[str, str] = {
    OperationType.BATCH_RETAIN: "batch_retain",
    OperationType.REGENERATE_OBSERVATIONS: "consolidation",
    OperationType.GRAPH_UPDATE: "graph_maintenance",
    OperationType.FILE_RETAIN: "file_convert_retain",
}
TYPE_FROM_COMPAT: dict[str, str] = {
    **{name: op_type for op_type, name in TYPE_TO_COMPAT.items()},
    "retain": OperationType.BATCH_RETAIN,
}
# Upstream type names we have no operations of: filtering by them is valid and matches nothing
# (a client built for the full server must not get an error for asking).
UPSTREAM_ONLY_TYPES = frozenset({"refresh_mental_model", "webhook_delivery"})

CANCELLABLE_HINT = "only 'pending' and 'processing' operations can be cancelled"


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with an explicit ``+00:00`` offset (the client accepts it as a string)."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def compat_status(status: str) -> str:
    return STATUS_TO_COMPAT.get(status, status)


def compat_type(operation_type: str) -> str:
    return TYPE_TO_COMPAT.get(operation_type, operation_type)


def transition_message(operation_id: str, action: str, status: str) -> str:
    """The 409 text of an ``InvalidTransition``, in this surface's status vocabulary."""
    message = f"Operation {operation_id} cannot be {action}: status is '{compat_status(status)}'"
    if action == "cancelled":
        message += f", {CANCELLABLE_HINT}"
    return message


