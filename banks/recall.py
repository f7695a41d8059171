"""Recall: memories of one bank ranked by relevance to a query.

This is the one entry point every surface calls (native ``/memories/recall/``, the compatible
``/v1/default/.../memories/recall``). The ranking itself is full-text search in the database
(``banks.fulltext``: SQLite FTS5 with BM25, or PostgreSQL ``ts_rank_cd``), chosen by the
connection's vendor; the signature is the contract.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from .entities import STOPWORDS
from .fulltext import SearchQuery, search
from .models import Bank, Memory

# Letters and digits; "_" separates words as in both full-text tokenisers.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
CHARS_PER_TOKEN = 4
MAX_QUERY_TERMS = 32
MAX_LIMIT = 1000


@dataclass(frozen=True)
class RecallHit:
    memory: Memory
    score: float


def terms(text: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(text)]


def query_terms(query: str) -> list[str]:
    """Distinct terms in order, stopwords dropped unless the query is nothing but stopwords."""
    found = list(dict.fromkeys(terms(query)))
    content = [t for t in found if t not in STOPWORDS]
    return (content or found)[:MAX_QUERY_TERMS]


def recall(
    bank: Bank,
    query: str,
    *,
    limit: int = 10,
    tags: list[str] | None = None,
    tags_match: str = "any",
    document_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_tokens: int | None = None,
) -> list[RecallHit]:
    """The bank's memories matching any query term, best first, each with a score from 0 to 1
    relative to the best hit of this query (1.0); filters narrow the candidates inside the same
    query, before ranking and the limit.

    ``tags_match`` is ``any`` or ``all``; ``since``/``until`` bound the memory's event timestamp
    (its retain time when it has none); ``max_tokens`` cuts the ranked list once the contents
    would exceed it (~4 chars a token; the first hit is always kept).
    """
    wanted = query_terms(query)
    if not wanted or limit <= 0:
        return []
    ranked = search(SearchQuery(
        bank_pk=bank.pk, terms=wanted, limit=min(limit, MAX_LIMIT), tags=tags or None,
        tags_match="all" if tags_match == "all" else "any", document_id=document_id,
        since=since, until=until,
    ))
    ids = [_as_uuid(memory_id) for memory_id, _ in ranked]
    memories = Memory.objects.in_bulk(ids)
    best = max((score for _, score in ranked), default=0.0)
    hits = [
        RecallHit(memories[memory_id], normalised(score, best))
        for memory_id, (_, score) in zip(ids, ranked, strict=True)
        if memory_id in memories
    ]
    return cut_to_budget(hits, max_tokens)


def normalised(score: float, best: float) -> float:
    """The raw rank (bm25 or ts_rank_cd: tiny, engine-specific numbers) over the query's best,
    so the top hit scores 1.0 and the others how close they came, on both databases alike."""
    return round(score / best, 6) if best > 0 else 0.0


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def cut_to_budget(hits: list[RecallHit], max_tokens: int | None) -> list[RecallHit]:
    if not max_tokens:
        return hits
    budget = max_tokens * CHARS_PER_TOKEN
    kept, used = [], 0
    for hit in hits:
        used += len(hit.memory.content)
        if used > budget and kept:
            break
        kept.append(hit)
    return kept
