"""The full-text query behind ``banks.recall``, one per database backend (schema in
``banks.search_schema``).

Both take the same ``SearchQuery`` and return ``[(memory_id, score)]`` best first, higher score
= more relevant:
- SQLite: FTS5 ``MATCH`` ranked by ``bm25()`` (negated, so higher is better). The bank is a token
  column of the FTS table, so the index intersects "this bank" with the query terms instead of
  ranking every bank's matches and throwing most away.
- PostgreSQL: ``search_vector @@ to_tsquery('simple', ...)`` ranked by ``ts_rank_cd`` (cover
  density, normalised by document length and to [0, 1)).
Terms are OR-ed: a memory matching more (and rarer) terms ranks higher. Both use the same
tokenisation (words, case-folded, no stemming) so they find the same memories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

_BM25_WEIGHTS = "1.0, 0.0"  # content counts, the bank token column does not


@dataclass(frozen=True)
class SearchQuery:
    bank_pk: int
    terms: list[str]
    limit: int
    tags: list[str] | None = None
    tags_match: str = "any"
    document_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(query: SearchQuery) -> list[tuple[object, float]]:
    if connection.vendor == "postgresql":
        return _search_postgres(query)
    if connection.vendor == "sqlite":
        return _search_sqlite(query)
    raise NotImplementedError(f"recall has no full-text backend for {connection.vendor}")


def _filters(query: SearchQuery, alias: str) -> tuple[list[str], list[object]]:
    """WHERE clauses on ``banks_memory`` (as ``alias``) shared by both backends."""
    ops = connection.ops
    clauses: list[str] = []
    params: list[object] = []
    if query.document_id:
        clauses.append(f"{alias}.document_id = %s")
        params.append(query.document_id)
    # The time range applies to the event timestamp, or to when it was retained if it has none.
    seen = f"COALESCE({alias}.timestamp, {alias}.created_at)"
    if query.since:
        clauses.append(f"{seen} >= %s")
        params.append(ops.adapt_datetimefield_value(query.since))
    if query.until:
        clauses.append(f"{seen} <= %s")
        params.append(ops.adapt_datetimefield_value(query.until))
    if query.tags:
        clause, tag_params = _tag_clause(query, alias)
        clauses.append(clause)
        params.extend(tag_params)
    return clauses, params


def _tag_clause(query: SearchQuery, alias: str) -> tuple[str, list[object]]:
    tags = sorted(set(query.tags or []))
    if connection.vendor == "postgresql":
        operator = "?&" if query.tags_match == "all" else "?|"
        return f"{alias}.tags {operator} %s", [tags]
    marks = ", ".join(["%s"] * len(tags))
    if query.tags_match == "all":
        return (f"(SELECT COUNT(DISTINCT value) FROM json_each({alias}.tags) "
                f"WHERE value IN ({marks})) = %s", [*tags, len(tags)])
    return f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE value IN ({marks}))", tags


def _search_sqlite(query: SearchQuery) -> list[tuple[object, float]]:
    terms = " OR ".join(f'"{term}"' for term in query.terms)
    match = f'bank : "b{query.bank_pk}" AND content : ({terms})'
    clauses, params = _filters(query, "m")
    join = "JOIN banks_memory m ON m.id = map.memory_id" if clauses else ""
    where = "".join(f" AND {clause}" for clause in clauses)
    sql = (
        f"SELECT map.memory_id, bm25(banks_memory_fts, {_BM25_WEIGHTS}) AS rank "
        "FROM banks_memory_fts "
        "JOIN banks_memory_fts_map map ON map.rowid = banks_memory_fts.rowid "
        f"{join} WHERE banks_memory_fts MATCH %s{where} "
        "ORDER BY rank, banks_memory_fts.rowid LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *params, query.limit])
        rows = cursor.fetchall()
    return [(memory_id, -rank) for memory_id, rank in rows]


def _search_postgres(query: SearchQuery) -> list[tuple[object, float]]:
    tsquery = " | ".join(f"'{term}'" for term in query.terms)
    clauses, params = _filters(query, "m")
    where = "".join(f" AND {clause}" for clause in clauses)
    sql = (
        "SELECT m.id, ts_rank_cd(m.search_vector, q, 1 | 32) AS score "
        "FROM banks_memory m, to_tsquery('simple', %s) q "
        f"WHERE m.bank_id = %s AND m.search_vector @@ q{where} "
        "ORDER BY score DESC, m.created_at, m.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [tsquery, query.bank_pk, *params, query.limit])
        return [(memory_id, float(score)) for memory_id, score in cursor.fetchall()]
