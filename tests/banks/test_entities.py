"""Entities at retain: the deterministic extractor, per-bank deduplication, and the read
functions the compatible API uses."""

from __future__ import annotations

import pytest

from banks.entities import entity_details, entity_names_for, extract, mentions_for, normalise
from banks.models import Entity, Memory, MemoryEntity
from operations.runner import run_operation
from operations.states import OperationType
from operations.submission import submit


def retain(bank, contents):
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents},
                       dispatch=False).operation
    run_operation(operation.pk)
    return list(Memory.objects.filter(operation=operation).order_by("item_index"))


class TestExtractor:
    def test_capitalised_runs_become_names_without_leading_stopwords(self):
        found = extract("Yesterday Alice met Bob Jones in New York.")
        assert [(m.key, m.display, m.type) for m in found] == [
            ("alice", "Alice", "name"), ("bob jones", "Bob Jones", "name"),
            ("new york", "New York", "name"),
        ]

    def test_emails_handles_and_hashtags_are_typed_and_not_split(self):
        found = extract("mail bob@example.com or ping @alice_b about #roadmap")
        assert [(m.key, m.type) for m in found] == [
            ("bob@example.com", "email"), ("@alice_b", "handle"), ("#roadmap", "hashtag"),
        ]

    def test_possessive_is_dropped_and_case_variants_are_one_entity(self):
        found = extract("Alice's cat met ALICE and alice")
        assert [m.key for m in found] == ["alice"]

    def test_capitals_inside_words_do_not_start_names(self):
        assert [m.display for m in extract("an iPhone for McDonald and x-Ray")] == ["McDonald"]

    def test_normalise_casefolds_and_strips_punctuation(self):
        assert normalise("  “Bob   Jones”. ") == "bob jones"

    def test_supplied_entities_come_first_and_merge_with_extracted(self):
        found = mentions_for("Alice likes Tea", [{"text": "alice", "type": "person"}])
        assert [(m.key, m.display, m.type) for m in found] == [
            ("alice", "alice", "person"), ("tea", "Tea", "name"),
        ]


@pytest.mark.django_db
class TestEntitiesAtRetain:
    def test_retain_links_memories_to_deduplicated_entities(self, bank):
        memories = retain(bank, [
            {"content": "Alice met Bob at Acme."},
            {"content": "alice wrote to Bob", "entities": [{"text": "ALICE", "type": "person"}]},
        ])
        assert sorted(Entity.objects.filter(bank=bank).values_list("name", flat=True)) == [
            "acme", "alice", "bob",
        ]
        names = entity_names_for([m.pk for m in memories])
        assert names == {memories[0].pk: ["Alice", "Bob", "Acme"],
                         memories[1].pk: ["Alice", "Bob"]}
        assert [m.entity_count for m in memories] == [3, 2]

    def test_entities_of_two_banks_are_separate_rows(self, bank, other_bank):
        retain(bank, [{"content": "Alice went home"}])
        retain(other_bank, [{"content": "Alice stayed"}])
        assert Entity.objects.filter(name="alice").count() == 2
        alpha_alice = Entity.objects.get(bank=bank, name="alice")
        assert set(MemoryEntity.objects.filter(entity=alpha_alice)
                   .values_list("memory__bank", flat=True)) == {bank.pk}

    def test_entity_details_answers_any_spelling_and_omits_unknown_names(self, bank, other_bank):
        retain(bank, [{"content": "Alice went home"}])
        retain(other_bank, [{"content": "Zed went home"}])
        details = entity_details(bank, ["alice", "Zed", "nobody"])
        assert list(details) == ["alice"]
        assert details["alice"]["canonical_name"] == "Alice"
        assert details["alice"]["observations"] == []

    def test_invalid_supplied_entities_are_a_400_with_the_item_index(self, api, bank):
        response = api.post("/api/banks/alpha/memories/", {"contents": [
            {"content": "ok"}, {"content": "x", "entities": [{"type": "person"}]},
        ]}, format="json")
        assert response.status_code == 400
        assert "entities" in response.json()["contents"]["1"]
