"""Native memory-engine endpoints: recall, entities list/detail, and submitting both new
operation types; bank isolation through the API."""

from __future__ import annotations

import pytest

from banks.models import Entity, Memory
from operations.runner import run_operation
from operations.states import OperationStatus, OperationType
from operations.submission import submit
from tests.banks.corpus import CORPUS

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(bank):
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": CORPUS},
                       dispatch=False).operation
    run_operation(operation.pk)
    return list(Memory.objects.filter(operation=operation).order_by("item_index"))


def recall(api, body, bank_id="alpha"):
    return api.post(f"/api/banks/{bank_id}/memories/recall/", body, format="json")


def test_recall_endpoint_ranks_and_describes_results(api, corpus):
    response = recall(api, {"query": "hotel Paris", "limit": 5})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["memory_id"] for r in results] == [str(corpus[1].pk), str(corpus[0].pk)]
    assert results[0]["content"] == CORPUS[1]["content"]
    assert results[0]["entities"] == ["Bob", "Paris"]
    assert results[0]["score"] > results[1]["score"] > 0
    assert results[0]["tags"] == ["travel"]


def test_recall_endpoint_applies_filters_and_budget(api, corpus):
    body = {"query": "Alice", "tags": ["work"], "tags_match": "any",
            "since": "2024-02-01T00:00:00Z", "until": None, "document_id": None}
    results = recall(api, body).json()["results"]
    assert [r["memory_id"] for r in results] == [str(corpus[2].pk)]
    budget = recall(api, {"query": "Alice", "max_tokens": 1}).json()["results"]
    assert len(budget) == 1


@pytest.mark.parametrize("body, field", [
    ({}, "query"),
    ({"query": "x", "limit": 0}, "limit"),
    ({"query": "x", "tags_match": "some"}, "tags_match"),
    ({"query": "x", "since": "yesterday"}, "since"),
    ({"query": "x", "tags": "work"}, "tags"),
    ({"query": "x", "max_tokens": -3}, "max_tokens"),
])
def test_recall_endpoint_rejects_bad_bodies_with_field_messages(api, corpus, body, field):
    response = recall(api, body)
    assert response.status_code == 400
    assert field in response.json()


def test_recall_of_unknown_bank_is_404(api, corpus):
    assert recall(api, {"query": "Alice"}, bank_id="nope").status_code == 404


def test_entities_list_is_paginated_and_searchable(api, corpus):
    response = api.get("/api/banks/alpha/entities/", {"limit": 2})
    body = response.json()
    assert response.status_code == 200
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 0)
    assert [(e["name"], e["mention_count"]) for e in body["entities"]] == [
        ("Alice", 3), ("Bob", 2),
    ]
    second = api.get("/api/banks/alpha/entities/", {"limit": 2, "offset": 2}).json()
    assert [e["name"] for e in second["entities"]] == ["Carol", "Paris"]
    found = api.get("/api/banks/alpha/entities/", {"q": "CAR"}).json()
    assert [e["name"] for e in found["entities"]] == ["Carol"]
    assert api.get("/api/banks/alpha/entities/", {"limit": "x"}).status_code == 400


def test_entity_detail_has_observation_and_linked_memories(api, bank, corpus):
    alice = Entity.objects.get(bank=bank, name="alice")
    url = f"/api/banks/alpha/entities/{alice.pk}/"
    assert api.get(url).json()["observation"] is None
    submitted = api.post("/api/banks/alpha/operations/",
                         {"type": "regenerate_observations", "entities": ["Alice"]},
                         format="json")
    assert submitted.status_code == 202
    assert submitted.json()["total"] == 1
    run_operation(submitted.json()["operation_id"])
    body = api.get(url).json()
    assert body["name"] == "Alice" and body["mention_count"] == 3
    assert body["observation"]["text"].startswith("Alice is mentioned in 3 memories")
    assert {m["memory_id"] for m in body["memories"]} == {
        str(corpus[0].pk), str(corpus[2].pk), str(corpus[3].pk),
    }


def test_entity_detail_of_other_bank_or_bad_id_is_404(api, bank, other_bank, corpus):
    alice = Entity.objects.get(bank=bank, name="alice")
    assert api.get(f"/api/banks/beta/entities/{alice.pk}/").status_code == 404
    assert api.get("/api/banks/alpha/entities/abc/").status_code == 404
    assert api.get("/api/banks/alpha/entities/99999999999999999999999/").status_code == 404
    assert api.get("/api/banks/nope/entities/").status_code == 404


def test_graph_update_submitted_through_the_api_reports_units_and_result(api, corpus):
    response = api.post("/api/banks/alpha/operations/", {"type": "graph_update"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert (body["type"], body["status"], body["total"]) == ("graph_update", "pending", 5)
    assert run_operation(body["operation_id"]) == OperationStatus.COMPLETED
    done = api.get(f"/api/banks/alpha/operations/{body['operation_id']}/").json()
    assert done["progress"] == 5
    assert done["result"] == {"memories_processed": 5, "failed_items_count": 0,
                              "links_written": 8}


def test_memories_list_tag_filter_is_exact_and_needs_every_tag(api, bank):
    submit_retain_items(bank, [
        {"content": "one", "tags": ["work", "travel"]},
        {"content": "two", "tags": ["Work"]},
        {"content": "three", "tags": ["homework"]},
    ])
    listed = lambda *tags: sorted(  # noqa: E731
        m["content"] for m in api.get("/api/banks/alpha/memories/", {"tag": list(tags)})
        .json()["memories"])
    assert listed("work") == ["one"]
    assert listed("Work") == ["two"]
    assert listed("work", "travel") == ["one"]
    assert listed("work", "homework") == []


def submit_retain_items(bank, contents):
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents},
                       dispatch=False).operation
    run_operation(operation.pk)


@pytest.mark.parametrize("body", [
    {"query": "\x00%_'\"; DROP TABLE banks_memory; --"},
    {"query": "AND OR NOT NEAR * ^ : ( )"},
    {"query": "x" * 5000, "limit": 1000},
    {"query": "Alice", "since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"},
    {"query": "Alice", "tags": [], "document_id": "", "max_tokens": None},
])
def test_recall_endpoint_never_fails_on_odd_but_valid_input(api, corpus, body):
    response = recall(api, body)
    assert response.status_code in (200, 400)
    assert isinstance(response.json().get("results", []), list)


def test_entity_search_with_odd_characters_is_an_empty_page(api, corpus):
    response = api.get("/api/banks/alpha/entities/", {"q": "\x00%_'"})
    assert response.status_code == 200
    assert response.json()["entities"] == []
