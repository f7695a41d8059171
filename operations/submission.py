"""Creating operations: one transaction writes the row (``pending``, ``total`` known) and its
payload; dispatch happens on commit, and the scheduler decides when it starts. Submitting the
same ``operation_id`` (or ``Idempotency-Key``) with the same body returns the original operation
and creates no work; so does submitting single-flight maintenance (``graph_update``,
``regenerate_observations``) while an identical one is pending (``deduplicated``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from banks.models import Bank

from .exceptions import IdempotencyConflict
from .executor import dispatch_on_commit
from .models import Operation, OperationPayload
from .registry import get_job
from .states import OperationStatus

_KEY_NAMESPACE = uuid.UUID("6f1c3b52-3c0e-4f7e-9a43-8f3d2c1b0a99")


@dataclass(frozen=True)
class Submission:
    operation: Operation
    created: bool
    # True: an identical single-flight maintenance operation was pending and is returned.
    deduplicated: bool = False


def request_hash(operation_type: str, payload: dict) -> str:
    # Not sort_keys: a replay is the same client sending the same body, in the same key order,
    # and sorting a 10 MB payload costs more than the rest of the submission.
    body = json.dumps({"type": operation_type, "payload": payload}, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def operation_id_for_key(bank: Bank, key: str) -> uuid.UUID:
    """An ``Idempotency-Key`` header names the same operation id every time, per bank."""
    return uuid.uuid5(_KEY_NAMESPACE, f"{bank.pk}:{key}")


def _replay(bank: Bank, operation_id: uuid.UUID, digest: str) -> Submission:
    existing = Operation.objects.select_related("bank").get(pk=operation_id)
    if existing.bank_id != bank.pk or existing.request_hash != digest:
        raise IdempotencyConflict(operation_id)
    return Submission(existing, created=False)


def _pending_twin(bank: Bank, operation_type: str, digest: str) -> Operation | None:
    """The pending operation of the same type and options in ``bank``, if any. The bank row is
    locked first (PostgreSQL; SQLite's IMMEDIATE transaction already serialises writers), so two
    concurrent identical submissions cannot both miss each other."""
    Bank.objects.select_for_update().filter(pk=bank.pk).first()
    return (
        Operation.objects.select_related("bank")
        .filter(bank=bank, type=operation_type, status=OperationStatus.PENDING,
                request_hash=digest)
        .order_by("created_at")
        .first()
    )


def submit(
    bank: Bank,
    operation_type: str,
    payload: dict,
    operation_id: uuid.UUID | None = None,
    dispatch: bool = True,
) -> Submission:
    """Validate, write the operation and its payload, dispatch on commit.

    ``dispatch=False`` is for callers that run the operation themselves right away (synchronous
    retain); the sweeper still picks the row up if that caller dies before claiming it.
    """
    job = get_job(operation_type)
    payload = job.validate_payload(bank, payload)
    # Only an idempotent submission (caller-chosen id) can ever be compared with a replay; a
    # single-flight one is also compared with the pending operations of its bank.
    digest = (
        request_hash(operation_type, payload)
        if operation_id is not None or job.single_flight
        else ""
    )
    if operation_id is not None and Operation.objects.filter(pk=operation_id).exists():
        return _replay(bank, operation_id, digest)
    try:
        with transaction.atomic():
            if job.single_flight:
                twin = _pending_twin(bank, operation_type, digest)
                if twin is not None:
                    return Submission(twin, created=False, deduplicated=True)
            operation = Operation.objects.create(
                id=operation_id or uuid.uuid4(),
                bank=bank,
                type=operation_type,
                total=job.count_units(bank, payload),
                stage="queued",
                request_hash=digest,
                # Not dispatched: the caller runs it now, so the scheduler must not hand it to
                # anyone else; the outbox sweep still does if the caller dies first.
                dispatched_at=None if dispatch else timezone.now(),
            )
            OperationPayload.objects.create(operation=operation, data=payload)
            if dispatch:
                dispatch_on_commit(operation.pk)
    except IntegrityError:
        # Two identical submissions raced; the loser answers with the winner's operation.
        if operation_id is None:
            raise
        return _replay(bank, operation_id, digest)
    return Submission(operation, created=True)
