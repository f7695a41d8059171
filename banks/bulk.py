"""Fast multi-row inserts for the memory engine's hot paths (the retain chunk's memory-entity
rows, graph_update's links): ``executemany`` on plain tuples (``COPY`` on PostgreSQL). Building a
model instance per row and letting ``bulk_create`` prepare every field costs several times more
than SQLite's insert itself (``bench/recall.py``); values are still adapted by the backend's own
operations, so both SQLite and PostgreSQL get what the ORM would have sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def _converter(field: Field) -> Callable[[Any], Any]:
    ops, features = connection.ops, connection.features
    kind = field.target_field.get_internal_type() if field.is_relation else (
        field.get_internal_type())
    if kind == "UUIDField" and not features.has_native_uuid_field:
        return lambda v: v.hex if isinstance(v, uuid.UUID) else v
    if kind == "DateTimeField":
        return ops.adapt_datetimefield_value
    if kind == "JSONField":
        return lambda v: ops.adapt_json_value(v, None)
    return lambda v: v


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
                ) -> int:
    """Insert ``rows`` (values in ``columns`` order, Python types as the model would hold them)
    into ``model``'s table; returns the number of rows. Runs in the caller's transaction."""
    rows = list(rows)
    if not rows:
        return 0
    fields = [model._meta.get_field(column) for column in columns]
    converters = [_converter(field) for field in fields]
    prepared = [[convert(value) for convert, value in zip(converters, row, strict=True)]
                for row in rows]
    qn = connection.ops.quote_name
    names = ", ".join(qn(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams all rows in one round trip; per-row INSERTs (even pipelined) cost
            # several times more on PostgreSQL (bench/ingest_rq.py).
            with cursor.copy(f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO {qn(model._meta.db_table)} ({names}) VALUES ({marks})", prepared
            )
    return len(prepared)
