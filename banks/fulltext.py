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
from typing import Any

from django.db import connection

from .tags import tag_clause

_BM25_WEIGHTS = "1.0, 0.0"  # content counts, the bank token column does not
EXACT_CANDIDATES = 10_000


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
        clause, tag_params = tag_clause(f"{alias}.tags", query.tags, query.tags_match)
        clauses.append(clause)
        params.extend(tag_params)
    return clauses, params


def _search_sqlite(query: SearchQuery) -> list[tuple[object, float]]:
    """Plan, then rank with bm25. The plan keeps latency bounded on large banks:

    1. Document frequencies come from the FTS vocabulary (one indexed read). Terms in no
       memory are dropped. When the terms together occur in more than ``EXACT_CANDIDATES``
       memories, so are terms in more than half of all indexed memories, as long as another
       term remains: FTS5's bm25 gives them an idf of ~0 (1e-6), so they change no ranking
       (a memory matching only them would rank last), while their posting lists dominate the
       query's cost.
    2. When the bank is the only one in the index, the bank token is not needed (it would make
       FTS5 walk a posting list as long as the bank).
    3. When the remaining terms occur in more than ``EXACT_CANDIDATES`` memories together, bm25
       ranks only the newest ``EXACT_CANDIDATES`` matches: past that size latency grows with
       the match count, and recency is the right tie-breaker for an agent's memory.
    Everything else is exact bm25 over all of the bank's matches.
    """
    with connection.cursor() as cursor:
        terms, candidates, only_bank = _plan_sqlite(cursor, query)
        if not terms:
            return []
        ored = " OR ".join(f'"{term}"' for term in terms)
        match = f"content : ({ored})" if only_bank else (
            f'bank : "b{query.bank_pk}" AND content : ({ored})')
        clauses, params = _filters(query, "m")
        join = "JOIN banks_memory m ON m.id = map.memory_id" if clauses else ""
        where = "".join(f" AND {clause}" for clause in clauses)
        window = ""
        if candidates > EXACT_CANDIDATES:
            window = f"ORDER BY banks_memory_fts.rowid DESC LIMIT {EXACT_CANDIDATES}"
        cursor.execute(
            "SELECT memory_id, rank FROM ("
            f"SELECT map.memory_id, bm25(banks_memory_fts, {_BM25_WEIGHTS}) AS rank, "
            "banks_memory_fts.rowid AS fts_rowid FROM banks_memory_fts "
            "JOIN banks_memory_fts_map map ON map.rowid = banks_memory_fts.rowid "
            f"{join} WHERE banks_memory_fts MATCH %s{where} {window}"
            ") ORDER BY rank, fts_rowid LIMIT %s",
            [match, *params, query.limit],
        )
        rows = cursor.fetchall()
    return [(memory_id, -rank) for memory_id, rank in rows]


def _plan_sqlite(cursor: Any, query: SearchQuery) -> tuple[list[str], int, bool]:
    """(terms to match, their summed document frequency, whether the bank is the whole index)."""
    bank_token = f"b{query.bank_pk}"
    marks = ", ".join(["%s"] * (len(query.terms) + 1))
    cursor.execute(
        f"SELECT term, col, doc FROM banks_memory_fts_vocab WHERE term IN ({marks})",
        [*query.terms, bank_token],
    )
    freq: dict[str, int] = {}
    bank_docs = 0
    for term, column, docs in cursor.fetchall():
        if column == "content":
            freq[term] = docs
        elif column == "bank" and term == bank_token:
            bank_docs = docs
    # max(rowid) >= the number of indexed rows: "more than half" is never overstated.
    cursor.execute("SELECT COALESCE(MAX(rowid), 0) FROM banks_memory_fts_map")
    indexed = cursor.fetchone()[0]
    present = [term for term in query.terms if freq.get(term)]
    if sum(freq[term] for term in present) <= EXACT_CANDIDATES:
        return present, 0, bool(indexed) and bank_docs == indexed
    informative = [term for term in present if freq[term] * 2 <= indexed]
    if not informative and present:
        informative = [min(present, key=lambda term: freq[term])]
    candidates = sum(freq[term] for term in informative)
    return informative, candidates, bool(indexed) and bank_docs == indexed


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
