"""Operation workflows behind every surface: the native and compatible APIs, the admin actions,
``manage.py operations`` and (over HTTP) the CLI all call these and only format the outcome."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from banks.models import Bank

from . import transitions
from .exceptions import InvalidOperationId, InvalidTransition, OperationNotFound
from .executor import dispatch_on_commit, get_executor
from .models import Operation
from .reaper import SweepOutcome, sweep
from .registry import render_result
from .states import is_terminal
from .transitions import CancelOutcome
from .waiting import WATCHER

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


# --- Reading one operation (the status poll) --------------------------------------------------

POLL_STEP = 0.05


@dataclass(frozen=True)
class _ReadShape:
    sql: str
    attnames: list[str]
    converters: list[tuple[int, list, object]]


_READ_SHAPES: dict[tuple[bool, int, str], _ReadShape] = {}


def _read_shape(with_rendering: bool, scoped: int) -> _ReadShape:
    """The status poll's SQL and column converters, built once per shape: the ORM spends more
    time compiling this one-row query than the database spends answering it."""
    key = (with_rendering, scoped, connection.vendor)
    shape = _READ_SHAPES.get(key)
    if shape is None:
        qn = connection.ops.quote_name
        names = [f for f in LIST_FIELDS if "__" not in f]
        wanted = {"bank", *names, *(["result_rendering"] if with_rendering else [])}
        # In the model's field order: ``Model.from_db`` reads partial rows in that order.
        fields = [f for f in Operation._meta.concrete_fields if f.name in wanted]
        table = Operation._meta.db_table
        columns = ", ".join(f"o.{qn(field.column)}" for field in fields)
        scope = f" AND b.{qn('bank_id')} IN ({', '.join(['%s'] * scoped)})" if scoped else ""
        sql = (f"SELECT {columns}, b.{qn('bank_id')} "
               f"FROM {qn(table)} o "
               f"JOIN {qn(Bank._meta.db_table)} b ON b.{qn('id')} = o.{qn('bank_id')} "
               f"WHERE o.{qn('id')} = %s AND b.{qn('bank_id')} = %s{scope}")
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection)
            if found:
                converters.append((index, found, column))
        shape = _ReadShape(sql, [field.attname for field in fields], converters)
        _READ_SHAPES[key] = shape
    return shape


def find_operation(bank_id: str, operation_id: object, scope: Iterable[str] | None = None, *,
                   with_rendering: bool = False) -> Operation | None:
    """The operation ``operation_id`` of bank ``bank_id``, if that bank is in ``scope`` (the
    bank ids the caller may see; None: all), in one query by primary key with the bank joined;
    None when there is no such operation in a visible bank (the caller tells which of the two is
    missing). ``with_rendering`` also loads the stored result rendering (large for a big batch;
    a conditional GET does not need it)."""
    pk = parse_operation_id(operation_id, bank_id)
    visible: list[str] = []
    if scope is not None:
        visible = sorted(scope)
        if not visible:
            return None
    shape = _read_shape(with_rendering, len(visible))
    params = [Operation._meta.pk.get_db_prep_value(pk, connection), bank_id, *visible]
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row[:-1])
    for index, converters, column in shape.converters:
        for convert in converters:
            values[index] = convert(values[index], column, connection)
    operation = Operation.from_db(connection.alias, shape.attnames, values)
    operation.bank = Bank.from_db(connection.alias, ["id", "bank_id"],
                                  [operation.bank_id, row[-1]])
    return operation


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
    stamp = int(operation.updated_at.timestamp() * 1_000_000)
    return f'"{operation.pk.hex}-{stamp}{variant}"'


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
