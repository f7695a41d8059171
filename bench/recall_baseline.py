"""The recall that came before full-text search (``icontains`` per term, scored in Python over
at most 5,000 candidates), kept only as the baseline ``bench/recall.py`` measures against."""

from __future__ import annotations

import math

from django.db.models import Q

from banks.models import Bank, Memory
from banks.recall import terms


def term_scan_recall(bank: Bank, query: str, *, limit: int = 10,
                     tags: list[str] | None = None) -> list[tuple[Memory, float]]:
    query_terms = sorted(set(terms(query)))
    candidates = Memory.objects.filter(bank=bank)
    for tag in tags or []:
        candidates = candidates.filter(tags__icontains=f'"{tag}"')
    any_term = Q()
    for term in query_terms:
        any_term |= Q(content__icontains=term)
    rows = list(candidates.filter(any_term)[:5000])
    total = max(len(rows), 1)
    words_of = {m.pk: terms(m.content) for m in rows}
    doc_freq = {t: sum(1 for m in rows if t in words_of[m.pk]) for t in query_terms}
    hits = []
    for memory in rows:
        words = words_of[memory.pk]
        score = sum(
            (1 + math.log(words.count(t))) * math.log(1 + total / (1 + doc_freq[t]))
            for t in query_terms if t in words
        ) / (1 + math.log(1 + len(words)))
        if score > 0:
            hits.append((memory, score))
    hits.sort(key=lambda h: -h[1])
    return hits[:limit]
