"""Retain: store items as memories through one ``batch_retain`` operation, synchronously or not.

The one use case behind the native ``POST /api/banks/{bank_id}/memories/``, the compatible
``POST /v1/default/banks/{bank_id}/memories`` and the CLI: both surfaces only translate their
request into a call here and the outcome into their response.

- The bank is created on first retain, if the caller's key may see that bank id.
- ``operation_id`` (or an ``Idempotency-Key``, which names the same id every time per bank)
  makes the submission idempotent: the same body returns the original operation and creates
  no work; a different body is an ``IdempotencyConflict`` unless ``replay_any_body``.
- Asynchronous: answers once the operation is committed (``pending``, dispatched on commit).
  Synchronous: the operation is not dispatched but run in the caller's thread, and the caller
  waits until it is terminal (the sweeper may have claimed it first; then we wait for that run),
  for at most ``SYNC_WAIT_SECONDS``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from operations.exceptions import IdempotencyConflict, OperationNotFound
from operations.models import Operation
from operations.runner import run_operation
from operations.services import get_operation, wait_until_terminal
from operations.states import OperationType, is_terminal
from operations.submission import Submission, operation_id_for_key, submit

from .access import Caller, may_create_bank
from .exceptions import BankNotFound
from .services import get_or_create_bank

SYNC_WAIT_SECONDS = 300


@dataclass(frozen=True)
class Retained:
    operation: Operation
    created: bool  # False: an idempotent replay of an earlier submission

    @property
    def finished(self) -> bool:
        return is_terminal(self.operation.status)


def retain(
    caller: Caller | None,
    bank_id: str,
    contents: list[dict[str, Any]],
    *,
    run_async: bool,
    operation_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    replay_any_body: bool = False,
) -> Retained:
    """Submit ``contents`` (validated by the job: ``InvalidInput``/``LimitExceeded``) to
    ``bank_id``; see the module docstring for the rules."""
    if not may_create_bank(caller, bank_id):
        raise BankNotFound(bank_id)
    bank = get_or_create_bank(bank_id)
    if operation_id is None and idempotency_key:
        operation_id = operation_id_for_key(bank, idempotency_key)
    try:
        result = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents}, operation_id,
                        dispatch=run_async)
    except IdempotencyConflict:
        if not replay_any_body or operation_id is None:
            raise
        result = Submission(_earlier_retain(bank, operation_id), created=False)
    return finish(result, run_async)


def finish(result: Submission, run_async: bool) -> Retained:
    """An asynchronous submission as it is; a synchronous one run in this thread (unless it
    is a replay) and waited for until terminal. Shared by every retain-like use case."""
    operation = result.operation
    if not run_async:
        if result.created:
            run_operation(operation.pk)
        operation = wait_until_terminal(operation, SYNC_WAIT_SECONDS)
    return Retained(operation, result.created)


def _earlier_retain(bank: Any, operation_id: uuid.UUID) -> Operation:
    """The retain this bank already submitted with ``operation_id``; another bank's id or
    another type's stays a conflict."""
    try:
        operation = get_operation(bank, operation_id)
    except OperationNotFound:
        raise IdempotencyConflict(operation_id) from None
    if operation.type != OperationType.BATCH_RETAIN:
        raise IdempotencyConflict(operation_id)
    return operation
