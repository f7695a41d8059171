"""The read path in prepared SQL: one operation by id (the status poll), its version alone (a
conditional GET) and one page of a bank's operations (the list).

These are the requests clients repeat most (a poll every few seconds per waiting agent), and
for queries this small the ORM spends more time compiling SQL and building instances than the
database spends answering. Each query's SQL and column converters are built once per shape
(per vendor), from the model's own fields, so a new column is read like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from banks.models import Bank

from .exceptions import InvalidOperationId
from .models import Operation
from .states import is_terminal

# What a list row and a status poll read (no payload, no stored result rendering).
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


def version_tag_of(pk: uuid.UUID, updated_at: datetime, variant: str = "") -> str:
    """The ``ETag`` of one version of an operation (see ``services.version_tag``)."""
    return f'"{pk.hex}-{int(updated_at.timestamp() * 1_000_000)}{variant}"'


@dataclass(frozen=True)
class _Shape:
    sql: str
    attnames: list[str]
    converters: list[tuple[int, list, object]]

    def convert(self, row: Iterable[object]) -> list[object]:
        values = list(row)
        for index, converters, column in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return values


_SHAPES: dict[tuple, _Shape] = {}
_TABLE = Operation._meta.db_table


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _shape(key: tuple, names: Iterable[str], build_sql, raw_datetimes: bool = False) -> _Shape:
    """The cached shape ``key``: the columns ``names`` in the model's field order
    (``Model.from_db`` reads partial rows in that order) and the SQL ``build_sql(columns)``.
    ``raw_datetimes``: SQLite's date-times come back as the stored text, converted only by
    ``_Shape.convert`` (Python's sqlite3 parses a declared date-time column on every fetch; an
    expression has no declared type), for rows that are mostly found already rendered."""
    key = (*key, raw_datetimes, connection.vendor)
    shape = _SHAPES.get(key)
    if shape is None:
        wanted = set(names)
        fields = [f for f in Operation._meta.concrete_fields if f.name in wanted]
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(_TABLE)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection)
            if found:
                converters.append((index, found, column))
        columns = ", ".join(_select(field, raw_datetimes) for field in fields)
        shape = _Shape(build_sql(columns), [f.attname for f in fields], converters)
        _SHAPES[key] = shape
    return shape


def _select(field, raw_datetimes: bool) -> str:
    sql = f"o.{_q(field.column)}"
    if (raw_datetimes and connection.vendor == "sqlite"
            and field.get_internal_type() == "DateTimeField"):
        return f"CAST({sql} AS TEXT)"
    return sql


def _prep(field: str, value: object) -> object:
    return Operation._meta.get_field(field).get_db_prep_value(value, connection)


def _scope_params(scope: Iterable[str] | None) -> list[str] | None:
    """The visible bank ids as query parameters: [] for all banks, None for none at all."""
    if scope is None:
        return []
    visible = sorted(scope)
    return visible or None


def _scope_sql(count: int) -> str:
    return f" AND b.{_q('bank_id')} IN ({', '.join(['%s'] * count)})" if count else ""


def _by_id_sql(columns: str, scoped: int) -> str:
    return (f"SELECT {columns}, b.{_q('bank_id')} FROM {_q(_TABLE)} o "
            f"JOIN {_q(Bank._meta.db_table)} b ON b.{_q('id')} = o.{_q('bank_id')} "
            f"WHERE o.{_q('id')} = %s AND b.{_q('bank_id')} = %s{_scope_sql(scoped)}")


def _read_by_id(key: tuple, names: list[str], bank_id: str, pk: uuid.UUID,
                scope: Iterable[str] | None) -> tuple[_Shape, tuple] | None:
    """The columns ``names`` of operation ``pk`` of bank ``bank_id``, the bank id last, if the
    bank is in ``scope``: the shape and the row, or None."""
    visible = _scope_params(scope)
    if visible is None:
        return None
    shape = _shape((*key, len(visible)), names,
                   lambda columns: _by_id_sql(columns, len(visible)))
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, [_prep("id", pk), bank_id, *visible])
        row = cursor.fetchone()
    return None if row is None else (shape, row)


def find_operation(bank_id: str, operation_id: object, scope: Iterable[str] | None = None, *,
                   with_rendering: bool = False) -> Operation | None:
    """The operation ``operation_id`` of bank ``bank_id``, if that bank is in ``scope`` (the
    bank ids the caller may see; None: all), in one query by primary key with the bank joined;
    None when there is no such operation in a visible bank (the caller tells which of the two is
    missing). ``with_rendering`` also loads the stored result rendering (large for a big batch;
    a conditional GET does not need it)."""
    pk = parse_operation_id(operation_id, bank_id)
    names = ["bank", *(f for f in LIST_FIELDS if "__" not in f),
             *(["result_rendering"] if with_rendering else [])]
    found = _read_by_id(("one", with_rendering), names, bank_id, pk, scope)
    if found is None:
        return None
    shape, row = found
    operation = Operation.from_db(connection.alias, shape.attnames, shape.convert(row[:-1]))
    operation.bank = Bank.from_db(connection.alias, ["id", "bank_id"],
                                  [operation.bank_id, row[-1]])
    return operation


def current_version_tag(bank_id: str, operation_id: object, scope: Iterable[str] | None,
                        variant: str = "") -> str | None:
    """The ``ETag`` the operation has now (one indexed one-column read), or None when there is
    no such operation in a visible bank: a conditional GET decides on this alone."""
    pk = parse_operation_id(operation_id, bank_id)
    found = _read_by_id(("version",), ["updated_at"], bank_id, pk, scope)
    if found is None:
        return None
    shape, row = found
    (updated_at,) = shape.convert(row[:1])
    return version_tag_of(pk, updated_at, variant)


def find_bank(bank_id: str, scope: Iterable[str] | None) -> Bank | None:
    """Bank ``bank_id`` (its id and bank id only) if the caller (``scope``) may see it."""
    if scope is not None and bank_id not in scope:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_q('id')} FROM {_q(Bank._meta.db_table)} "
                       f"WHERE {_q('bank_id')} = %s", [bank_id])
        row = cursor.fetchone()
    return Bank.from_db(connection.alias, ["id", "bank_id"], [row[0], bank_id]) if row else None


@dataclass(frozen=True)
class PageRequest:
    """One page of a newest-first list: ``limit`` rows at ``offset``, or (cursor mode) the
    rows before the ``(created_at, id)`` in ``before``."""

    limit: int
    offset: int | None = 0
    before: tuple[datetime, uuid.UUID] | None = None


def _where(statuses: list[str], types: list[str], cursor: bool,
           bank: str | None = None) -> str:
    """The list's conditions: the bank by primary key, or (``bank``) the SQL naming it by id."""
    sql = bank or f"o.{_q('bank_id')} = %s"
    for column, values in (("status", statuses), ("type", types)):
        if values:
            sql += f" AND o.{_q(column)} IN ({', '.join(['%s'] * len(values))})"
    if cursor:
        # A range plus an exclusion, not an OR: SQLite uses an OR's index for neither side.
        created, pk = _q("created_at"), _q("id")
        sql += f" AND o.{created} <= %s AND NOT (o.{created} = %s AND o.{pk} >= %s)"
    return sql


def total_without_count(offset: int, fetched: int, limit: int) -> int | None:
    """What an offset page of ``fetched`` rows (``limit + 1`` asked for) already tells of the
    total: exact on the last page, unless it is empty past the end; None: count."""
    return offset + fetched if fetched <= limit and (fetched or offset == 0) else None


@dataclass(frozen=True)
class RenderedPage:
    """A list page as rendered rows (``render``'s output, in order) and what paging needs."""

    rows: list[str]
    total: int | None
    after: tuple[datetime, uuid.UUID] | None  # the last row's position when more rows follow


# Rendered terminal rows by (renderer, id, raw updated_at): a terminal row changes only through
# ``transitions``, which bump ``updated_at`` with every change (the ETag's invariant), so a hit
# is always the current rendering. Bounded: past the limit the memo starts over.
_ROW_MEMO: dict[tuple, str] = {}
ROW_MEMO_LIMIT = 20_000


def _rendered(shape: _Shape, rows: list[tuple], bank: Bank,
              render: Callable[[Operation], str]) -> list[str]:
    at = {name: index for index, name in enumerate(shape.attnames)}
    i_id, i_updated = at["id"], at["updated_at"]
    rendered_rows = []
    for row in rows:
        key = (render, row[i_id], row[i_updated])
        rendered = _ROW_MEMO.get(key)
        if rendered is None:
            operation = Operation.from_db(connection.alias, shape.attnames, shape.convert(row))
            operation.bank = bank
            rendered = render(operation)
            if is_terminal(operation.status):
                if len(_ROW_MEMO) >= ROW_MEMO_LIMIT:
                    _ROW_MEMO.clear()
                _ROW_MEMO[key] = rendered
        rendered_rows.append(rendered)
    return rendered_rows


def _position(shape: _Shape, row: tuple) -> tuple[datetime, uuid.UUID]:
    """``(created_at, id)`` of ``row``, these two columns alone converted."""
    created, pk = shape.attnames.index("created_at"), shape.attnames.index("id")
    values = shape.convert([v if i in (created, pk) else None for i, v in enumerate(row)])
    return values[created], values[pk]


_LIST_NAMES = ["bank", *(f for f in LIST_FIELDS if "__" not in f)]


def _order() -> str:
    return f"ORDER BY o.{_q('created_at')} DESC, o.{_q('id')} DESC LIMIT %s OFFSET %s"


def list_page(bank: Bank, page: PageRequest, render: Callable[[Operation], str],
              statuses: Iterable[str] = (), types: Iterable[str] = ()) -> RenderedPage:
    """One newest-first page of ``bank``'s operations with these statuses and types (empty:
    any), each row rendered by ``render``. ``total`` counts every match in offset mode and is
    None in cursor mode (not counting is what keeps deep cursor pages cheap)."""
    statuses, types = list(statuses), list(types)
    cursor = page.before is not None
    shape = _shape(("page", len(statuses), len(types), cursor), _LIST_NAMES,
                   lambda columns: (f"SELECT {columns} FROM {_q(_TABLE)} o "
                                    f"WHERE {_where(statuses, types, cursor)} {_order()}"),
                   raw_datetimes=True)
    filters: list[object] = [bank.pk, *statuses, *types]
    params = list(filters)
    if cursor:
        created_at, pk = page.before
        params += [_prep("created_at", created_at), _prep("created_at", created_at),
                   _prep("id", pk)]
    offset = page.offset or 0
    with connection.cursor() as db:
        db.execute(shape.sql, [*params, page.limit + 1, offset])
        read = db.fetchall()
    fetched = read[: page.limit]
    after = _position(shape, fetched[-1]) if len(read) > page.limit and fetched else None
    total = None
    if not cursor:
        total = total_without_count(offset, len(read), page.limit)
        if total is None:
            with connection.cursor() as db:
                db.execute(f"SELECT COUNT(*) FROM {_q(_TABLE)} o "
                           f"WHERE {_where(statuses, types, False)}", filters)
                total = db.fetchone()[0]
    return RenderedPage(_rendered(shape, fetched, bank, render), total, after)


def offset_page(bank_id: str, scope: Iterable[str] | None, page: PageRequest,
                render: Callable[[Operation], str], statuses: Iterable[str] = (),
                types: Iterable[str] = ()) -> tuple[Bank, RenderedPage] | None:
    """``list_page`` of an offset ``page`` in one query: the bank (``bank_id``, if in
    ``scope``) joined and the total counted by the same statement -- a list poll made three
    round trips. None when that finds no row (the bank may be unknown, invisible or have no
    such rows: ``find_bank`` and ``list_page`` tell which)."""
    visible = _scope_params(scope)
    if visible is None:
        return None
    statuses, types = list(statuses), list(types)

    def build(columns: str) -> str:
        where = _where(statuses, types, False,
                       f"b.{_q('bank_id')} = %s{_scope_sql(len(visible))}")
        tables = (f"{_q(_TABLE)} o JOIN {_q(Bank._meta.db_table)} b "
                  f"ON b.{_q('id')} = o.{_q('bank_id')}")
        # The count is a subquery of its own (SQLite runs it once): a window count would read
        # every matching row's columns before the LIMIT.
        return (f"SELECT {columns}, b.{_q('id')}, (SELECT COUNT(*) FROM {tables} WHERE {where}) "
                f"FROM {tables} WHERE {where} {_order()}")

    shape = _shape(("offset", len(statuses), len(types), len(visible)), _LIST_NAMES, build,
                   raw_datetimes=True)
    filters = [bank_id, *visible, *statuses, *types]
    offset = page.offset or 0
    with connection.cursor() as db:
        db.execute(shape.sql, [*filters, *filters, page.limit + 1, offset])
        read = db.fetchall()
    if not read:
        return None
    bank = Bank.from_db(connection.alias, ["id", "bank_id"], [read[0][-2], bank_id])
    fetched = [row[:-2] for row in read[: page.limit]]
    after = _position(shape, fetched[-1]) if len(read) > page.limit else None
    return bank, RenderedPage(_rendered(shape, fetched, bank, render), read[0][-1], after)
