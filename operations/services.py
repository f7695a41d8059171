"""Operation workflows behind every surface: the native and compatible APIs, the admin actions,
``manage.py operations`` and (over HTTP) the CLI all call these and only format the outcome."""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q, QuerySet

from banks.models import Bank

from . import transitions
from .exceptions import InvalidOperationId, InvalidTransition, OperationNotFound
from .executor import dispatch_on_commit, get_executor
from .models import Operation
from .reads import LIST_FIELDS, find_operation, parse_operation_id, version_tag_of
from .reaper import SweepOutcome, sweep
from .registry import render_result
from .states import is_terminal
from .transitions import CancelOutcome
from .waiting import WATCHER


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


# --- Reading one operation (the status poll; its SQL lives in ``reads``) ------------------

POLL_STEP = 0.05


def result_rendering(operation: Operation) -> str:
    """The stored JSON rendering of a terminal operation's detail result. ``complete`` stores
    it with the transition; other terminal states are rendered by their first reader and kept."""
    rendering = operation.result_rendering  # loads the deferred column if needed
    if rendering is None:
        rendering = render_result(operation)
        transitions.store_rendering(operation.pk, operation.updated_at, rendering)
        operation.result_rendering = rendering
    return rendering


def version_tag(operation: Operation, variant: str = "") -> str:
    """Changes with every visible change of the operation (every one goes through
    ``transitions``, which always bumps ``updated_at``); the native API's ``ETag``. Computed
    from the row alone, so a matching ``If-None-Match`` is answered without rendering anything.
    ``variant`` tells representations of one version apart (``?fields=``, ``?result=``)."""
    return version_tag_of(operation.pk, operation.updated_at, variant)


def wait_for_change(operation: Operation, timeout: float) -> Operation | None:
    """Long-poll: the operation once its version differs from ``operation``'s, or after
    ``timeout`` seconds (then the same version). Parks on the process's watcher, which reads
    every waited-on operation's version in one query per tick. None, at once, when this process
    already holds ``HINDSIGHT_MAX_WAITERS`` waiting requests (the caller answers 429)."""
    if is_terminal(operation.status) or timeout <= 0:
        return operation
    changed = WATCHER.wait(operation.pk, operation.updated_at, timeout)
    if changed is None:
        return None
    if not changed:
        return operation
    bank = operation.bank
    fresh = find_operation(bank.bank_id, operation.pk)
    if fresh is None:
        raise OperationNotFound(operation.pk, bank.bank_id)
    return fresh


def wait_until_terminal(operation: Operation, timeout: float) -> Operation:
    """Re-read ``operation`` until it is terminal or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    operation.refresh_from_db()
    while not is_terminal(operation.status) and time.monotonic() < deadline:
        time.sleep(POLL_STEP)
        operation.refresh_from_db()
    return operation
