"""Operation workflows behind every surface: the native and compatible APIs, the admin actions,
``manage.py operations`` and (over HTTP) the CLI all call these and only format the outcome."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q, QuerySet

from banks.models import Bank

from . import transitions
from .exceptions import InvalidOperationId, InvalidTransition, OperationNotFound
from .executor import dispatch_on_commit, get_executor
from .models import Operation
from .reaper import SweepOutcome, sweep
from .states import is_terminal
from .transitions import CancelOutcome

LIST_FIELDS = (
    "id", "bank__bank_id", "type", "status", "progress", "total", "created_at", "started_at",
    "completed_at", "updated_at", "error", "stage", "failed_items_count", "attempt",
    "lost_count", "summary", "heartbeat_at", "worker_id", "retry_count", "next_retry_at",
    "last_error",
)


def parse_operation_id(raw: object, bank_id: str | None = None) -> uuid.UUID:
    """The one parser of operation ids from every surface (path, body, command line):
    ``InvalidOperationId`` for anything that is not a UUID."""
    try:
        return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
    except ValueError:
        raise InvalidOperationId(raw, bank_id) from None


def operations_for(banks: QuerySet[Bank] | Bank) -> QuerySet[Operation]:
    """Operations of one bank or of a queryset of banks, without payloads, newest first."""
    query = Operation.objects.select_related("bank").only(*LIST_FIELDS)
    if isinstance(banks, Bank):
        return query.filter(bank=banks)
    return query.filter(bank__in=banks)


def get_operation(bank: Bank, operation_id: object) -> Operation:
    pk = parse_operation_id(operation_id, bank.bank_id)
    try:
        return Operation.objects.select_related("bank").get(pk=pk, bank=bank)
    except Operation.DoesNotExist:
        raise OperationNotFound(pk, bank.bank_id) from None


def cancel_operation(bank: Bank, operation_id: object, *, strict: bool = False) -> Operation:
    """Cancel a pending or running operation (no-op if already cancelled, unless ``strict``);
    409 otherwise."""
    operation = get_operation(bank, operation_id)
    transitions.cancel(operation.pk, bank.pk, strict=strict)
    return get_operation(bank, operation.pk)


def cancel_operations(
    banks: QuerySet[Bank] | Bank,
    operation_ids: Iterable[object] | None = None,
    statuses: Iterable[str] | None = None,
) -> CancelOutcome:
    """Bulk cancel by ids and/or statuses within the given bank(s); per-outcome counts."""
    scope = Q(bank=banks) if isinstance(banks, Bank) else Q(bank__in=banks)
    ids = None
    not_found = 0
    if operation_ids is not None:
        ids = []
        for raw in operation_ids:
            try:
                ids.append(parse_operation_id(raw))
            except InvalidOperationId:
                not_found += 1
    outcome = transitions.cancel_many(scope, ids, statuses)
    outcome.not_found += not_found
    return outcome


def retry_operation(bank: Bank, operation_id: object) -> Operation:
    """``failed|cancelled -> pending`` and dispatch; resumes from committed progress. A
    ``pending`` operation deferred after a transient error runs now instead of at its
    ``next_retry_at``."""
    operation = get_operation(bank, operation_id)
    with transaction.atomic():
        try:
            transitions.retry(operation.pk, bank.pk)
        except InvalidTransition:
            if not transitions.expedite(operation.pk, bank.pk):
                raise
        dispatch_on_commit(operation.pk)
    return get_operation(bank, operation.pk)


def delete_operation(bank: Bank, operation_id: object) -> None:
    operation = get_operation(bank, operation_id)
    transitions.delete_terminal(operation.pk, bank.pk)


def reap() -> SweepOutcome:
    """One liveness sweep, dispatching through the configured executor."""
    return sweep(get_executor().dispatch)


# --- Waiting for an operation ---------------------------------------------------------------------

POLL_STEP = 0.05


def version_tag(operation: Operation) -> str:
    """Changes with every visible change of the operation (every one goes through
    ``transitions``, which always bumps ``updated_at``); the native API's ``ETag``."""
    return f'"{operation.pk.hex}-{int(operation.updated_at.timestamp() * 1_000_000)}"'


def wait_for_change(bank: Bank, operation_id: object, known: str | None,
                    timeout: float) -> Operation:
    """The operation once its ``version_tag`` differs from ``known``, it is terminal, or
    ``timeout`` seconds have passed (a long-poll)."""
    operation = get_operation(bank, operation_id)
    deadline = time.monotonic() + timeout
    while (
        known == version_tag(operation)
        and not is_terminal(operation.status)
        and time.monotonic() < deadline
    ):
        time.sleep(POLL_STEP * 2)
        operation = get_operation(bank, operation_id)
    return operation


def wait_until_terminal(operation: Operation, timeout: float) -> Operation:
    """Re-read ``operation`` until it is terminal or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    operation.refresh_from_db()
    while not is_terminal(operation.status) and time.monotonic() < deadline:
        time.sleep(POLL_STEP)
        operation.refresh_from_db()
    return operation
