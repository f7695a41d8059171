"""Translation of operations to and from the Hindsight-compatible shapes (docs/api.md).

Only names and shapes change here; every value comes from the same ``Operation`` row the native
API serializes. Vocabulary: status ``running`` is ``processing`` on this surface, types are
``batch_retain`` / ``consolidation`` / ``graph_maintenance``, ``error`` is ``error_message``,
``total`` is ``items_count`` and ``progress.total``, ``retry_count`` counts automatic re-runs
(after transient errors and lost workers) and ``next_retry_at`` is set while a deferred
operation waits for its retry.
"""

from __future__ import annotations

import uuid
from typing import Any

from operations.models import Operation, OperationItemFailure
from operations.registry import get_job
from operations.services import parse_operation_id as parse_any_operation_id
from operations.states import OperationStatus, is_terminal

from .vocabulary import (
    compat_status,
    compat_type,
    iso,
)


def progress(operation: Operation) -> dict[str, Any]:
    """The progress object: what is committed (``processed``) out of ``total``, and when the
    worker last reported (``at``) so a poller can tell a slow run from a frozen one."""
    stage = operation.stage or compat_status(operation.status)
    return {
        "stage": stage,
        "at": iso(operation.heartbeat_at or operation.updated_at or operation.created_at),
        "processed": operation.progress,
        "total": operation.total,
        "detail": {"failed_items": operation.failed_items_count},
    }


def next_retry_at(operation: Operation) -> str | None:
    """When a deferred operation runs again; only while it waits (``pending``)."""
    if operation.status != OperationStatus.PENDING:
        return None
    return iso(operation.next_retry_at)


def operation_row(operation: Operation) -> dict[str, Any]:
    """One row of ``GET .../operations`` (the client's ``OperationResponse``)."""
    op_id = str(operation.pk)
    op_type = compat_type(operation.type)
    return {
        "id": op_id,
        "task_type": op_type,
        "operation_id": op_id,
        "operation_type": op_type,
        "items_count": operation.total,
        "document_id": None,
        "filename": None,
        "mental_model_id": None,
        "details": None,
        "created_at": iso(operation.created_at),
        "updated_at": iso(operation.updated_at),
        "status": compat_status(operation.status),
        "error_message": operation.error,
        "retry_count": operation.retries,
        "next_retry_at": next_retry_at(operation),
        "progress": progress(operation),
    }


def result_metadata(operation: Operation) -> dict[str, Any]:
    """Counts, the failed units (index and error) and, once terminal, the job's summary.

    Never the job's full result: for a 10,000-item retain that is 10,000 memory ids, loaded on
    every poll only to be counted (the native detail endpoint has them)."""
    # Failure rows commit with the count that includes them: none to read while it is 0.
    failures = []
    if operation.failed_items_count:
        failures = OperationItemFailure.objects.filter(operation=operation).order_by("index")
    metadata: dict[str, Any] = {
        "items_count": operation.total,
        "processed": operation.progress,
        "memory_ids_count": operation.progress - operation.failed_items_count,
        "failed_items_count": operation.failed_items_count,
        "failed_items": [{"index": f.index, "error": f.error} for f in failures],
    }
    if is_terminal(operation.status):
        metadata.update(get_job(operation.type).summary(operation))
    return metadata


def operation_status(operation: Operation, payload: dict | None = None) -> dict[str, Any]:
    """``GET .../operations/{id}`` (the client's ``OperationStatusResponse``)."""
    row = operation_row(operation)
    return {
        "operation_id": row["operation_id"],
        "status": row["status"],
        "operation_type": row["operation_type"],
        "id": row["id"],
        "task_type": row["task_type"],
        "mental_model_id": None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "completed_at": iso(operation.completed_at),
        "error_message": row["error_message"],
        "retry_count": row["retry_count"],
        "next_retry_at": row["next_retry_at"],
        "progress": row["progress"],
        "result_metadata": result_metadata(operation),
        "details": None,
        "child_operations": [],
        "task_payload": payload,
    }


def not_found_status(operation_id: str) -> dict[str, Any]:
    """Upstream answers an id unknown in the bank with 200 and ``status: not_found``."""
    keys = ("operation_type", "id", "task_type", "mental_model_id", "created_at", "updated_at",
            "completed_at", "error_message", "retry_count", "next_retry_at", "progress",
            "result_metadata", "details", "child_operations", "task_payload")
    return {"operation_id": operation_id, "status": "not_found", **dict.fromkeys(keys)}


def action_response(operation_id: object, message: str) -> dict[str, Any]:
    """The body of cancel, retry and delete: ``{"success", "message", "operation_id"}``."""
    return {"success": True, "message": message, "operation_id": str(operation_id)}


def parse_operation_id(raw: str) -> uuid.UUID:
    """A path id that is not a UUID raises ``InvalidOperationId``, which this surface's error
    handler answers with 400 (the native API answers 404)."""
    return parse_any_operation_id(raw)

