"""The memory engine in the scale-out deployment: PostgreSQL, Redis, RQ workers and the API on
gunicorn, all real processes. Entities extracted at retain, graph_update and
regenerate_observations run by RQ workers, and recall served by PostgreSQL full-text search."""

from __future__ import annotations

import pytest

from tests.scale.stack import Stack

pytestmark = pytest.mark.slow

CORPUS = [
    {"content": "Alice and Bob planned the Paris trip over coffee.", "tags": ["travel"]},
    {"content": "Bob booked the hotel in Paris for the whole team.", "tags": ["travel"]},
    {"content": "Alice reviewed the quarterly budget with Carol.", "tags": ["work"]},
    {"content": "Carol likes green tea; Alice prefers coffee.", "tags": []},
]


def submit(stack: Stack, bank_id: str, body: dict) -> dict:
    response = stack.client.post(f"/api/banks/{bank_id}/operations/", json=body)
    assert response.status_code == 202, response.text
    return stack.wait_status(bank_id, response.json()["operation_id"],
                             {"completed", "failed", "cancelled"})


def test_memory_engine_runs_on_rq_workers_over_postgresql(rq_stack, bank_id):
    rq_stack.ensure_workers(2)
    retained = rq_stack.retain_async(bank_id, CORPUS)
    assert rq_stack.wait_status(bank_id, retained["operation_id"],
                                {"completed", "failed"})["status"] == "completed"

    graph = submit(rq_stack, bank_id, {"type": "graph_update"})
    assert (graph["status"], graph["progress"], graph["result"]["links_written"]) == (
        "completed", 4, 8)
    observations = submit(rq_stack, bank_id, {"type": "regenerate_observations"})
    assert (observations["status"], observations["progress"]) == ("completed", 4)

    recall = rq_stack.client.post(f"/api/banks/{bank_id}/memories/recall/",
                                  json={"query": "hotel Paris", "tags": ["travel"]})
    assert recall.status_code == 200, recall.text
    results = recall.json()["results"]
    assert [r["content"] for r in results] == [CORPUS[1]["content"], CORPUS[0]["content"]]
    assert results[0]["entities"] == ["Bob", "Paris"]

    entities = rq_stack.client.get(f"/api/banks/{bank_id}/entities/", params={"q": "ali"}).json()
    alice = rq_stack.client.get(
        f"/api/banks/{bank_id}/entities/{entities['entities'][0]['entity_id']}/").json()
    assert alice["observation"]["text"].startswith("Alice is mentioned in 3 memories")
    assert "Carol (2)" in alice["observation"]["text"]
