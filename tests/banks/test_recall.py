"""Recall over the hand-made corpus: ranking, filters, the token budget, bank isolation and
keeping the full-text index in sync with writes and deletes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from banks import services
from banks.models import Memory
from banks.recall import recall
from operations.runner import run_operation
from operations.states import OperationType
from operations.submission import submit
from tests.banks.corpus import CORPUS

pytestmark = pytest.mark.django_db


def retain(bank, contents):
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents},
                       dispatch=False).operation
    run_operation(operation.pk)
    return list(Memory.objects.filter(operation=operation).order_by("item_index"))


@pytest.fixture
def corpus(bank):
    return retain(bank, CORPUS)


def contents(hits):
    return [hit.memory.content for hit in hits]


def test_recall_ranks_the_memory_matching_most_query_terms_first(bank, corpus):
    hits = recall(bank, "hotel in Paris")
    assert contents(hits)[0] == CORPUS[1]["content"]
    assert set(contents(hits)) == {CORPUS[0]["content"], CORPUS[1]["content"]}
    assert hits[0].score > hits[1].score > 0


def test_recall_scores_are_normalised_to_the_best_hit_of_the_query(bank, corpus):
    hits = recall(bank, "hotel in Paris")
    assert hits[0].score == 1.0
    assert all(0 < hit.score <= 1 for hit in hits)
    assert hits[1].score > 0.01  # readable at two decimals, not 2e-06


def test_recall_is_case_insensitive_and_ignores_stopwords(bank, corpus):
    assert contents(recall(bank, "the BUDGET")) == [CORPUS[2]["content"]]


def test_recall_of_unknown_terms_is_empty(bank, corpus):
    assert recall(bank, "submarine") == []
    assert recall(bank, "  ?! ") == []


def test_tags_any_and_all(bank, corpus):
    any_hits = recall(bank, "Alice Carol Bob", tags=["travel", "personal"])
    assert set(contents(any_hits)) == {CORPUS[0]["content"], CORPUS[1]["content"],
                                      CORPUS[3]["content"]}
    all_hits = recall(bank, "Alice Carol Bob", tags=["travel", "work"], tags_match="all")
    assert contents(all_hits) == [CORPUS[0]["content"]]


def test_document_id_filter(bank, corpus):
    assert contents(recall(bank, "Alice", document_id="doc-b")) == [CORPUS[2]["content"]]


def test_time_range_filter_uses_the_event_timestamp(bank, corpus):
    hits = recall(bank, "Alice", since=datetime(2024, 2, 1, tzinfo=UTC),
                  until=datetime(2024, 3, 10, tzinfo=UTC))
    assert contents(hits) == [CORPUS[2]["content"]]


def test_token_budget_cuts_the_ranked_list(bank, corpus):
    everything = recall(bank, "Alice")
    assert len(everything) == 3
    first = len(everything[0].memory.content)
    cut = recall(bank, "Alice", max_tokens=(first + 4) // 4)
    assert contents(cut) == contents(everything)[:1]


def test_limit_caps_results(bank, corpus):
    assert len(recall(bank, "Alice", limit=2)) == 2


def test_recall_never_returns_another_banks_memories(bank, other_bank, corpus):
    retain(other_bank, [{"content": "Paris hotel secrets of another bank"}])
    assert all(hit.memory.bank_id == bank.pk for hit in recall(bank, "Paris hotel secrets"))
    assert contents(recall(other_bank, "Paris")) == ["Paris hotel secrets of another bank"]


def test_index_follows_content_updates_and_deletes(bank, other_bank, corpus):
    memory = corpus[4]
    Memory.objects.filter(pk=memory.pk).update(content="Snow fell on the mountain.")
    assert recall(bank, "sunny") == []
    assert contents(recall(bank, "snow")) == ["Snow fell on the mountain."]
    Memory.objects.filter(pk=memory.pk).delete()
    assert recall(bank, "snow") == []
    services.delete_bank(bank)
    assert recall(other_bank, "Paris") == []
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM banks_memory_fts")
            assert cursor.fetchone()[0] == Memory.objects.count() == 0


@pytest.mark.skipif("connection.vendor != 'sqlite'")
class TestLargeCandidateSetPlan:
    """The SQLite plan for queries matching many memories (``EXACT_CANDIDATES``, made tiny)."""

    def test_terms_in_most_memories_are_dropped_when_rarer_terms_remain(self, bank, corpus,
                                                                         monkeypatch):
        monkeypatch.setattr("banks.fulltext.EXACT_CANDIDATES", 2)
        # "alice" is in 3 of 5 memories: bm25 gives it no weight, so only "hotel" matters.
        assert contents(recall(bank, "Alice hotel")) == [CORPUS[1]["content"]]

    def test_only_the_newest_matches_are_ranked_past_the_candidate_cap(self, bank, corpus,
                                                                       monkeypatch):
        monkeypatch.setattr("banks.fulltext.EXACT_CANDIDATES", 2)
        assert set(contents(recall(bank, "Alice"))) == {CORPUS[2]["content"],
                                                        CORPUS[3]["content"]}

    def test_small_candidate_sets_are_ranked_exactly(self, bank, corpus):
        """Under the cap every candidate is scored: the one "hotel" memory (the rare term)
        first, then the three "Alice" memories (tied: the term is in most of them), newest
        first."""
        hits = recall(bank, "Alice hotel")
        assert contents(hits) == [CORPUS[i]["content"] for i in (1, 3, 2, 0)]
        assert hits[0].score > hits[1].score


def test_tag_and_document_filters_are_exact_for_any_characters(bank):
    memories = retain(bank, [
        {"content": "x report", "tags": ["Q3 plan/ü"], "document_id": "Doc 1/é"},
        {"content": "y report", "tags": ["q3 plan/ü"], "document_id": "doc 1/é"},
    ])
    assert contents(recall(bank, "report", tags=["Q3 plan/ü"])) == ["x report"]
    assert contents(recall(bank, "report", document_id="doc 1/é")) == ["y report"]
    Memory.objects.filter(pk=memories[0].pk).update(tags=["other"])
    assert recall(bank, "report", tags=["Q3 plan/ü"]) == []
    assert sorted(contents(recall(bank, "report", tags=["other", "q3 plan/ü"]))) == [
        "x report", "y report"]
