"""Tag filters on ``Memory.tags`` (a JSON list of strings), exact and case-sensitive, on both
database backends: SQLite looks inside the list with ``json_each``, PostgreSQL uses the jsonb
``?|`` / ``?&`` operators. (Django's ``tags__contains`` does not work on SQLite, and matching
the quoted element with ``icontains`` ignores case.)"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL


def tag_clause(column: str, tags: list[str], match: str = "any") -> tuple[str, list[object]]:
    """SQL (with ``%s`` params) true when the JSON list in ``column`` has any/all of ``tags``."""
    wanted = sorted(set(tags))
    if connection.vendor == "postgresql":
        return f"{column} {'?&' if match == 'all' else '?|'} %s", [wanted]
    marks = ", ".join(["%s"] * len(wanted))
    if match == "all":
        return (f"(SELECT COUNT(DISTINCT value) FROM json_each({column}) "
                f"WHERE value IN ({marks})) = %s", [*wanted, len(wanted)])
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN ({marks}))", wanted


def with_tags(memories: QuerySet, tags: list[str], match: str = "any") -> QuerySet:
    """Narrow a Memory queryset to memories carrying any (or all) of ``tags``."""
    if not tags:
        return memories
    table = connection.ops.quote_name(memories.model._meta.db_table)
    sql, params = tag_clause(f"{table}.{connection.ops.quote_name('tags')}", tags, match)
    return memories.filter(RawSQL(sql, params, output_field=BooleanField()))
