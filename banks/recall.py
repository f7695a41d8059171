"""Recall: memories of one bank ranked by relevance to a query.

This is the one entry point every surface calls (native ``/memories/recall/``, the compatible
``/v1/default/.../memories/recall``). The ranking backend behind it is replaceable; the signature
is the contract.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from .models import Bank, Memory

_WORD = re.compile(r"\w+", re.UNICODE)
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class RecallHit:
    memory: Memory
    score: float


def terms(text: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(text)]


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
    """Rank the bank's memories matching any query term; filters narrow the candidates first.

    ``tags_match`` is ``any`` or ``all``; ``since``/``until`` bound the memory's event timestamp;
    ``max_tokens`` cuts the ranked list once the contents would exceed it (~4 chars a token).
    """
    query_terms = sorted(set(terms(query)))
    if not query_terms:
        return []
    candidates = Memory.objects.filter(bank=bank)
    if document_id:
        candidates = candidates.filter(document_id=document_id)
    if since:
        candidates = candidates.filter(timestamp__gte=since)
    if until:
        candidates = candidates.filter(timestamp__lte=until)
    if tags:
        tag_q = [Q(tags__icontains=f'"{tag}"') for tag in tags]
        combined = tag_q[0]
        for extra in tag_q[1:]:
            combined = (combined & extra) if tags_match == "all" else (combined | extra)
        candidates = candidates.filter(combined)
    any_term = Q()
    for term in query_terms:
        any_term |= Q(content__icontains=term)
    rows = list(candidates.filter(any_term)[:5000])
    total_docs = max(len(rows), 1)
    doc_freq = {t: sum(1 for m in rows if t in terms(m.content)) for t in query_terms}
    hits = []
    for memory in rows:
        words = terms(memory.content)
        length_norm = 1 + math.log(1 + len(words))
        score = 0.0
        for term in query_terms:
            tf = words.count(term)
            if tf:
                idf = math.log(1 + total_docs / (1 + doc_freq[term]))
                score += (1 + math.log(tf)) * idf / length_norm
        if score > 0:
            hits.append(RecallHit(memory, round(score, 6)))
    hits.sort(key=lambda h: (-h.score, h.memory.created_at))
    return cut_to_budget(hits[:limit], max_tokens)


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
