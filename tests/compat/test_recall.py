"""``recall()`` and ``list_memories()`` through the official client."""

from __future__ import annotations

import json

import pytest
from hindsight_client_api.exceptions import ApiException

from banks.models import Bank, Entity
from operations.states import OperationType
from operations.submission import submit
from tests.compat.conftest import op_status, run, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FACTS = [
    {"content": "Alice drinks green tea every morning", "tags": ["alice", "drinks"],
     "document_id": "d1", "metadata": {"source": "chat"}, "context": "breakfast talk"},
    {"content": "Tea tea tea: Alice is obsessed with tea", "tags": ["alice"],
     "document_id": "d1"},
    {"content": "Bob prefers black coffee", "tags": ["bob", "drinks"], "document_id": "d2"},
    {"content": "Carol went hiking on Saturday", "tags": ["carol"]},
]


@pytest.fixture
def facts(hindsight):
    hindsight.retain_batch("demo", FACTS)
    return hindsight


def test_recall_with_the_clients_defaults_ranks_the_best_match_first(facts):
    answer = facts.recall("demo", "tea")
    texts = [r.text for r in answer.results]
    assert texts == ["Tea tea tea: Alice is obsessed with tea",
                     "Alice drinks green tea every morning"]
    scores = [r.scores.final for r in answer.results]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1] > 0
    assert scores[0] == 1.0 and scores[1] < 1  # normalised per query, as on the native surface
    first = answer.results[1]
    assert (first.type, first.document_id, first.metadata, first.context) == (
        "world", "d1", {"source": "chat"}, "breakfast talk")
    assert first.tags == ["alice", "drinks"]
    assert first.mentioned_at is not None
    assert first.entities == ["Alice"]
    assert (answer.entities, answer.chunks, answer.trace) == (None, None, None)


def test_recall_with_every_option_set_is_accepted(facts):
    answer = facts.recall(
        "demo", "drinks", types=["world", "experience"], max_tokens=1000, budget="high",
        trace=True, query_timestamp="2024-05-30T23:40:00", include_entities=True,
        include_chunks=True, include_source_facts=True, tags=["drinks"], tags_match="any_strict",
        tag_groups=[{"tags": ["drinks"], "match": "any"}], prefer_observations=False,
        min_scores={"final": 0.0}, temporal_window={"start": "2024-01-01", "end": "2025-01-01"},
    )
    assert [r.text for r in answer.results] == ["Alice drinks green tea every morning"]
    assert answer.trace is not None


def test_recall_filters_by_tags(facts):
    answer = facts.recall("demo", "tea coffee", tags=["bob"])
    assert [r.text for r in answer.results] == ["Bob prefers black coffee"]
    both = facts.recall("demo", "alice tea", tags=["alice", "drinks"], tags_match="all")
    assert [r.text for r in both.results] == ["Alice drinks green tea every morning"]


def test_recall_of_observation_types_only_finds_nothing(facts):
    assert facts.recall("demo", "tea", types=["observation"]).results == []


def test_recall_cuts_results_to_max_tokens(facts):
    answer = facts.recall("demo", "tea", max_tokens=5)
    assert len(answer.results) == 1


def test_recall_applies_a_final_score_floor(facts):
    best = facts.recall("demo", "tea").results[0].scores.final
    answer = facts.recall("demo", "tea", min_scores={"final": best})
    assert [r.scores.final for r in answer.results] == [best]


def test_recall_on_unknown_bank_is_404(hindsight):
    with pytest.raises(ApiException) as caught:
        hindsight.recall("nobody", "tea")
    assert caught.value.status == 404
    assert json.loads(caught.value.body) == {"detail": "Bank 'nobody' not found"}


def test_list_memories_pages_newest_first(facts):
    page = facts.list_memories("demo", limit=2, offset=1)
    assert (page.total, page.limit, page.offset) == (4, 2, 1)
    assert [m.text for m in page.items] == [FACTS[2]["content"], FACTS[1]["content"]]
    row = page.items[0]
    assert (row.fact_type, row.state, row.context, row.var_date, row.entities) == (
        "world", "valid", "", "", "Bob")


def test_list_memories_filters_by_search_document_and_tags(facts):
    assert [m.text for m in facts.list_memories("demo", search_query="COFFEE").items] == [
        "Bob prefers black coffee"]
    # The search covers the context too.
    assert facts.list_memories("demo", search_query="breakfast").total == 1
    by_document = facts.list_memories("demo", document_id="d1")
    assert {m.text for m in by_document.items} == {FACTS[0]["content"], FACTS[1]["content"]}
    by_tags = facts.list_memories("demo", tags=["bob", "carol"])
    assert {m.text for m in by_tags.items} == {FACTS[2]["content"], FACTS[3]["content"]}
    all_tags = facts.list_memories("demo", tags=["alice", "drinks"], tags_match="all")
    assert [m.text for m in all_tags.items] == [FACTS[0]["content"]]
    assert facts.list_memories("demo", type="observation").total == 0


def test_list_memories_of_unknown_bank_is_404(hindsight):
    with pytest.raises(ApiException) as caught:
        run(hindsight.memory.list_memories("nobody"))
    assert caught.value.status == 404


def test_recall_includes_entities_with_their_observations_when_asked(facts):
    facts.retain("demo", "Alice met Bob Jones in New York")
    # Observations come from a regenerate_observations run ("consolidation" on this surface).
    op = submit(Bank.objects.get(bank_id="demo"), OperationType.REGENERATE_OBSERVATIONS, {})
    wait_for(lambda: op_status(facts, "demo", str(op.operation.pk)).status == "completed")

    answer = facts.recall("demo", "Alice tea", include_entities=True)
    assert "Alice" in answer.entities
    alice = answer.entities["Alice"]
    assert alice.canonical_name == "Alice"
    assert alice.entity_id == str(Entity.objects.get(bank__bank_id="demo", name="alice").pk)
    assert len(alice.observations) == 1 and "Alice" in alice.observations[0].text
    assert all(name in answer.entities for r in answer.results for name in r.entities)


def test_list_memories_names_entities_and_filters_by_entity_id(facts):
    facts.retain("demo", "Alice met Bob Jones in New York")
    row = facts.list_memories("demo", search_query="New York").items[0]
    assert row.entities == "Alice, Bob Jones, New York"
    bob = Entity.objects.get(bank__bank_id="demo", name="bob")
    mentioning_bob = facts.list_memories("demo", entity_id=str(bob.pk))
    assert [m.text for m in mentioning_bob.items] == ["Bob prefers black coffee"]
    assert facts.list_memories("demo", entity_id="not-an-entity").total == 0


def test_entities_supplied_with_a_retain_are_linked_before_extracted_ones(hindsight):
    hindsight.retain("demo", "the quarterly numbers from Alice",
                     entities=[{"text": "acme corp", "type": "ORG"}])
    [row] = hindsight.list_memories("demo").items
    assert row.entities == "acme corp, Alice"
    assert hindsight.recall("demo", "quarterly").results[0].entities == ["acme corp", "Alice"]
