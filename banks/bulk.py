"""Fast multi-row inserts for the memory engine's hot paths (the retain chunk's memories and
memory-entity rows, graph_update's links): multi-row ``INSERT`` statements of plain tuples
(``COPY`` on PostgreSQL). Building a model instance per row and letting ``bulk_create`` prepare
every field costs several times more than SQLite's insert itself (``bench/ingest.py``,
``bench/recall.py``); values are still adapted by the backend's own operations, so both SQLite
and PostgreSQL get what the ORM would have sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def uuid_adapter() -> Callable[[uuid.UUID | None], Any]:
    """UUID -> what the connection stores (``hex`` on SQLite, the UUID itself on PostgreSQL)."""
    if connection.features.has_native_uuid_field:
        return lambda value: value
    return lambda value: value.hex if isinstance(value, uuid.UUID) else value


_EMPTY_JSON = {list: "[]", dict: "{}"}


def json_text(value: Any) -> str:
    """A JSON column's value as the database receives it (text on SQLite; the textual input of
    ``jsonb`` in PostgreSQL's ``COPY``). Empty containers, the common case, skip the encoder."""
    if not value and type(value) in _EMPTY_JSON:
        return _EMPTY_JSON[type(value)]
    return json.dumps(value)


def _converter(field: Field) -> Callable[[Any], Any]:
    ops = connection.ops
    kind = field.target_field.get_internal_type() if field.is_relation else (
        field.get_internal_type())
    if kind == "UUIDField":
        return uuid_adapter()
    if kind == "DateTimeField":
        return ops.adapt_datetimefield_value
    if kind == "JSONField":
        return lambda v: ops.adapt_json_value(v, None)
    return lambda v: v


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]],
                *, adapted: bool = False) -> int:
    """Insert ``rows`` (values in ``columns`` order) into ``model``'s table; returns the number
    of rows. Runs in the caller's transaction. Values are Python types as the model would hold
    them, adapted here, unless ``adapted`` says the caller already did (``uuid_adapter``,
    ``json_text``, ``connection.ops.adapt_datetimefield_value``)."""
    rows = list(rows)
    if not rows:
        return 0
    fields = [model._meta.get_field(column) for column in columns]
    if not adapted:
        converters = [_converter(field) for field in fields]
        rows = [[convert(value) for convert, value in zip(converters, row, strict=True)]
                for row in rows]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    names = ", ".join(qn(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams all rows in one round trip; per-row INSERTs (even pipelined) cost
            # several times more on PostgreSQL (bench/ingest_rq.py).
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # Multi-row INSERTs of as many rows as the bound-parameter limit allows: about a
            # third faster than executemany's one statement execution per row.
            per_statement = max(1, connection.features.max_query_params // len(fields))
            row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
            for start in range(0, len(rows), per_statement):
                part = rows[start : start + per_statement]
                values = ", ".join([row_marks] * len(part))
                cursor.execute(f"INSERT INTO {table} ({names}) VALUES {values}",
                               list(chain.from_iterable(part)))
    return len(rows)
