"""regenerate_observations on the hand-made corpus: exact observation content, replacement on
re-run, the named-entities option and bank isolation."""

from __future__ import annotations

import pytest

from banks.entities import entity_details
from banks.models import Entity, Memory, Observation
from operations.runner import run_operation
from operations.states import OperationStatus, OperationType
from operations.submission import submit
from tests.banks.corpus import CORPUS

pytestmark = pytest.mark.django_db


def retain(bank, contents):
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents},
                       dispatch=False).operation
    run_operation(operation.pk)
    return list(Memory.objects.filter(operation=operation).order_by("item_index"))


def regenerate(bank, **payload):
    operation = submit(bank, OperationType.REGENERATE_OBSERVATIONS, payload,
                       dispatch=False).operation
    assert run_operation(operation.pk) == OperationStatus.COMPLETED
    operation.refresh_from_db()
    return operation


def observation(bank, name):
    return Observation.objects.get(entity__bank=bank, entity__name=name)


def test_observation_summarises_mentions_co_mentions_and_recent_snippets(bank):
    retain(bank, CORPUS)
    operation = regenerate(bank)
    assert (operation.progress, operation.total) == (4, 4)  # alice, bob, paris, carol
    alice = observation(bank, "alice")
    assert alice.mention_count == 3
    assert alice.first_seen.isoformat() == "2024-01-10T09:00:00+00:00"
    assert alice.last_seen.isoformat() == "2024-03-20T08:00:00+00:00"
    assert [(c["name"], c["count"]) for c in alice.co_mentions] == [
        ("Carol", 2), ("Bob", 1), ("Paris", 1),
    ]
    assert [s["text"] for s in alice.snippets] == [
        CORPUS[3]["content"], CORPUS[2]["content"], CORPUS[0]["content"],
    ]
    assert alice.text == (
        "Alice is mentioned in 3 memories, first on 2024-01-10 and last on 2024-03-20. "
        "Most often mentioned with: Carol (2), Bob (1), Paris (1). "
        'Representative recent mentions: "Carol likes green tea; Alice prefers coffee."; '
        '"Alice reviewed the quarterly budget with Carol."; '
        '"Alice and Bob planned the Paris trip over coffee.".'
    )
    paris = observation(bank, "paris")
    assert paris.text.startswith("Paris is mentioned in 2 memories, first on 2024-01-10 and "
                                 "last on 2024-02-05. Most often mentioned with: Bob (2), "
                                 "Alice (1).")


def test_representative_snippets_prefer_memories_with_top_co_mentions(bank):
    retain(bank, [
        {"content": "Dave met Erin.", "timestamp": "2024-01-01T00:00:00Z"},
        {"content": "Dave met Erin again.", "timestamp": "2024-01-02T00:00:00Z"},
        {"content": "Dave slept.", "timestamp": "2024-01-03T00:00:00Z"},
        {"content": "Dave ate.", "timestamp": "2024-01-04T00:00:00Z"},
    ])
    regenerate(bank)
    dave = observation(bank, "dave")
    assert [s["text"] for s in dave.snippets] == ["Dave ate.", "Dave met Erin again.",
                                                  "Dave met Erin."]


def test_rerun_replaces_observations_instead_of_duplicating(bank):
    retain(bank, CORPUS)
    first = regenerate(bank)
    retain(bank, [{"content": "Alice flew home.", "timestamp": "2024-05-01T00:00:00Z"}])
    second = regenerate(bank)
    assert Observation.objects.filter(bank=bank).count() == Entity.objects.filter(
        bank=bank).count() == 4
    alice = observation(bank, "alice")
    assert (alice.mention_count, alice.operation_id) == (4, second.pk)
    assert alice.last_seen.isoformat() == "2024-05-01T00:00:00+00:00"
    assert not Observation.objects.filter(operation=first).exists()


def test_named_entities_limit_the_run(bank):
    retain(bank, CORPUS)
    operation = regenerate(bank, entities=["ALICE", "carol"])
    assert operation.total == 2
    assert sorted(Observation.objects.filter(bank=bank).values_list("entity__name", flat=True)
                  ) == ["alice", "carol"]


def test_unknown_named_entity_is_a_400(api, bank):
    retain(bank, CORPUS)
    response = api.post("/api/banks/alpha/operations/",
                        {"type": "regenerate_observations", "entities": ["Mallory"]},
                        format="json")
    assert response.status_code == 400
    assert response.json()["entities"] == ["Unknown entity: mallory"]


def test_observations_never_cross_banks(bank, other_bank):
    retain(bank, CORPUS)
    retain(other_bank, [{"content": "Alice sails with Zoe."}])
    regenerate(bank)
    regenerate(other_bank)
    alice = observation(bank, "alice")
    assert "Zoe" not in alice.text and alice.mention_count == 3
    other = entity_details(other_bank, ["Alice"])["Alice"]
    assert other["observations"][0]["text"].startswith("Alice is mentioned in 1 memory, on ")
    assert "Zoe (1)" in other["observations"][0]["text"]
