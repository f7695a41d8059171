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


def _time_filters(query: SearchQuery, alias: str) -> tuple[list[str], list[object]]:
    """WHERE clauses on ``banks_memory`` (as ``alias``) for the time range."""
    ops = connection.ops
    clauses: list[str] = []
    params: list[object] = []
    # The time range applies to the event timestamp, or to when it was retained if it has none.
    seen = f"COALESCE({alias}.timestamp, {alias}.created_at)"
    if query.since:
        clauses.append(f"{seen} >= %s")
        params.append(ops.adapt_datetimefield_value(query.since))
    if query.until:
        clauses.append(f"{seen} <= %s")
        params.append(ops.adapt_datetimefield_value(query.until))
    return clauses, params


def _filters(query: SearchQuery, alias: str) -> tuple[list[str], list[object]]:
    """All WHERE clauses on ``banks_memory`` (as ``alias``): the PostgreSQL query's filters."""
    clauses, params = _time_filters(query, alias)
    if query.document_id:
        clauses.append(f"{alias}.document_id = %s")
        params.append(query.document_id)
    if query.tags:
        clause, tag_params = tag_clause(f"{alias}.tags", query.tags, query.tags_match)
        clauses.append(clause)
        params.extend(tag_params)
    return clauses, params


def tag_token(tag: str) -> str:
    """The FTS ``keys`` token of a tag (see ``banks.search_schema.KEYS_SQL``)."""
    return "t" + tag.encode().hex()


def document_token(document_id: str) -> str:
    return "d" + document_id.encode().hex()


def _search_sqlite(query: SearchQuery) -> list[tuple[object, float]]:
    """Plan, then rank with bm25. The plan keeps latency bounded on large banks:

    1. Document frequencies come from the FTS vocabulary (one indexed read). Terms in no
       memory are dropped. When the terms together occur in more than ``EXACT_CANDIDATES``
       memories, so are terms in more than half of all indexed memories, as long as another
       term remains: FTS5's bm25 gives them an idf of ~0 (1e-6), so they change no ranking
       (a memory matching only them would rank last), while their posting lists dominate the
       query's cost.
    2. Bank, tag and document filters are tokens of the ``keys`` column, intersected inside
       FTS5; the bank token is left out when the bank is the only one in the index (it would
       make FTS5 walk a posting list as long as the bank). Only a time range joins the
       memory table before ranking; the id map is joined for the top hits only.
    3. When the remaining terms (or the filters) still leave more than ``EXACT_CANDIDATES``
       candidates, bm25 ranks only the newest ``EXACT_CANDIDATES`` matches: past that size
       latency grows with the match count, and recency is the right tie-breaker for an
       agent's memory.
    Everything else is exact bm25 over all of the bank's matches.
    """
    tags = sorted(set(query.tags or []))
    keys = [tag_token(tag) for tag in tags]
    if query.document_id:
        keys.append(document_token(query.document_id))
    with connection.cursor() as cursor:
        plan = _plan_sqlite(cursor, query, keys)
        if plan is None:
            return []
        terms, window, only_bank = plan
        ored = " OR ".join(f'"{term}"' for term in terms)
        match = [f"content : ({ored})"]
        if not only_bank:
            match.append(f'keys : "b{query.bank_pk}"')
        if tags:
            joined = (" AND " if query.tags_match == "all" else " OR ").join(
                f'"{tag_token(tag)}"' for tag in tags)
            match.append(f"keys : ({joined})")
        if query.document_id:
            match.append(f'keys : "{document_token(query.document_id)}"')
        clauses, params = _time_filters(query, "m")
        join = ("JOIN banks_memory_fts_map tmap ON tmap.rowid = banks_memory_fts.rowid "
                "JOIN banks_memory m ON m.id = tmap.memory_id") if clauses else ""
        where = "".join(f" AND {clause}" for clause in clauses)
        ranked = (
            f"SELECT banks_memory_fts.rowid AS fts_rowid, bm25(banks_memory_fts, "
            f"{_BM25_WEIGHTS}) AS rank FROM banks_memory_fts {join} "
            f"WHERE banks_memory_fts MATCH %s{where}"
        )
        if window:
            ranked = (f"SELECT fts_rowid, rank FROM ({ranked} "
                      f"ORDER BY banks_memory_fts.rowid DESC LIMIT {EXACT_CANDIDATES})")
        cursor.execute(
            "SELECT map.memory_id, top.rank FROM ("
            f"SELECT fts_rowid, rank FROM ({ranked}) ORDER BY rank, fts_rowid LIMIT %s"
            ") top JOIN banks_memory_fts_map map ON map.rowid = top.fts_rowid "
            "ORDER BY top.rank, top.fts_rowid",
            [" AND ".join(match), *params, query.limit],
        )
        rows = cursor.fetchall()
    return [(memory_id, -rank) for memory_id, rank in rows]


def _plan_sqlite(cursor: Any, query: SearchQuery, keys: list[str]
                 ) -> tuple[list[str], bool, bool] | None:
    """(terms to match, whether to rank only the newest matches, whether the bank is the whole
    index), or None when nothing can match."""
    bank_token = f"b{query.bank_pk}"
    wanted = [*query.terms, bank_token, *keys]
    marks = ", ".join(["%s"] * len(wanted))
    cursor.execute(
        f"SELECT term, col, doc FROM banks_memory_fts_vocab WHERE term IN ({marks})", wanted
    )
    freq: dict[str, int] = {}
    key_freq: dict[str, int] = {}
    for term, column, docs in cursor.fetchall():
        (freq if column == "content" else key_freq)[term] = docs
    # max(rowid) >= the number of indexed rows: "more than half" is never overstated.
    cursor.execute("SELECT COALESCE(MAX(rowid), 0) FROM banks_memory_fts_map")
    indexed = cursor.fetchone()[0]
    present = [term for term in query.terms if freq.get(term)]
    if not present or not key_freq.get(bank_token):
        return None
    only_bank = key_freq[bank_token] == indexed
    # An upper bound of the candidates the filters leave (tags "any": their sum; else the
    # rarest filter token).
    tag_keys = [key for key in keys if key.startswith("t")]
    bounds = [key_freq[bank_token]]
    if tag_keys:
        tag_docs = [key_freq.get(key, 0) for key in tag_keys]
        bounds.append(min(tag_docs) if query.tags_match == "all" else sum(tag_docs))
    if query.document_id:
        bounds.append(key_freq.get(keys[-1], 0))
    if sum(freq[term] for term in present) <= EXACT_CANDIDATES or min(bounds) <= (
            EXACT_CANDIDATES):
        return present, False, only_bank
    informative = [term for term in present if freq[term] * 2 <= indexed]
    if not informative:
        informative = [min(present, key=lambda term: freq[term])]
    candidates = min(sum(freq[term] for term in informative), *bounds)
    return informative, candidates > EXACT_CANDIDATES, only_bank


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
