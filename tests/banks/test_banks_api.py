"""Banks CRUD, retain (sync and async), memory listing, health, version and the API docs."""

from __future__ import annotations

import pytest

from banks.models import Bank, Memory
from operations.models import Operation
from operations.states import OperationStatus
from tests.conftest import wait_idle
from tests.factories import items, submit_retain

pytestmark = pytest.mark.django_db


def test_create_and_get_bank_with_counts(api):
    response = api.post("/api/banks/", {"bank_id": "team", "name": "Team", "mission": "m"},
                        format="json")
    assert response.status_code == 201
    body = api.get("/api/banks/team/").json()
    assert body["bank_id"] == "team" and body["name"] == "Team" and body["memory_count"] == 0
    assert body["operations"] == dict.fromkeys(OperationStatus.values, 0)


def test_bank_list_patch_and_delete(api, bank, other_bank):
    listed = api.get("/api/banks/").json()
    assert [b["bank_id"] for b in listed["banks"]] == ["alpha", "beta"]
    assert api.patch("/api/banks/alpha/", {"mission": "remember"}, format="json").json()[
        "mission"] == "remember"
    assert api.delete("/api/banks/beta/").status_code == 204
    assert not Bank.objects.filter(bank_id="beta").exists()


def test_delete_bank_cancels_its_active_operations_first(api, bank):
    submit_retain(bank, 5)
    assert api.delete("/api/banks/alpha/").status_code == 204
    assert not Operation.objects.exists() and not Memory.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_bank_while_its_operation_runs_stops_the_worker_writing(api, bank,
                                                                          gated_chunks, caplog):
    caplog.set_level("INFO", logger="operations.runner")
    op = submit_retain(bank, 50, dispatch=True)
    assert gated_chunks.preparing.wait(60)  # running: chunk 1 committed, chunk 2 next
    assert Operation.objects.get(pk=op.pk).status == OperationStatus.RUNNING
    assert Memory.objects.filter(bank=bank).count() == gated_chunks.gated_at > 0
    assert api.delete("/api/banks/alpha/").status_code == 204
    gated_chunks.gate.set()  # the worker goes on to prepare and try to commit chunk 2
    assert gated_chunks.released.wait(60)
    wait_idle()
    assert not Bank.objects.exists()
    assert not Operation.objects.exists() and not Memory.objects.exists()
    # The worker saw the cancel and stopped; it did not crash into the vanished bank.
    runner_logs = [r for r in caplog.records if r.name == "operations.runner"]
    assert [r.levelname for r in runner_logs if r.levelno >= 30] == []
    assert any("stopped at" in r.getMessage() for r in runner_logs)


def test_bad_bank_ids_are_400(api, db):
    assert api.post("/api/banks/", {"bank_id": ""}, format="json").status_code == 400
    assert api.post("/api/banks/", {"bank_id": "a\x01b"}, format="json").status_code == 400
    assert api.post("/api/banks/", {"bank_id": "x" * 129}, format="json").status_code == 400


def test_unknown_bank_is_404_everywhere(api, db):
    for method, url in [("get", "/api/banks/nope/"), ("patch", "/api/banks/nope/"),
                        ("delete", "/api/banks/nope/"), ("get", "/api/banks/nope/memories/")]:
        assert getattr(api, method)(url, {}, format="json").status_code == 404, url


def test_sync_retain_returns_201_with_memory_ids_and_failed_items(api, db):
    contents = items(3)
    contents[1]["content"] = " "
    response = api.post("/api/banks/new-bank/memories/", {"contents": contents}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert len(body["memory_ids"]) == 2
    assert body["failed_items"] == [{"index": 1, "error": "content must not be empty"}]
    assert Bank.objects.filter(bank_id="new-bank").exists()


def test_async_retain_returns_202_operation_and_location(api, db):
    response = api.post("/api/banks/alpha/memories/", {"contents": items(3), "async": True},
                        format="json")
    assert response.status_code == 202
    assert response.json()["status"] == OperationStatus.PENDING
    assert response["Location"].startswith("/api/banks/alpha/operations/")


def test_retain_item_fields_are_stored(api, db):
    item = {"content": "Alice likes tea", "context": "chat", "timestamp": "2024-03-15T10:00:00Z",
            "metadata": {"source": "slack"}, "tags": ["t1", "t2"], "document_id": "doc-1"}
    api.post("/api/banks/alpha/memories/", {"contents": [item]}, format="json")
    memory = Memory.objects.get()
    assert (memory.context, memory.metadata, memory.tags, memory.document_id) == (
        "chat", {"source": "slack"}, ["t1", "t2"], "doc-1")
    assert memory.timestamp.isoformat() == "2024-03-15T10:00:00+00:00"


def test_retain_with_bad_timestamp_is_400(api, db):
    response = api.post("/api/banks/alpha/memories/",
                        {"contents": [{"content": "x", "timestamp": "tomorrow"}]}, format="json")
    assert response.status_code == 400
    assert "timestamp" in response.json()["contents"]["0"]


def test_memory_list_filters_by_text_tag_and_document(api, db):
    contents = [
        {"content": "Alice likes tea", "tags": ["drinks"], "document_id": "d1"},
        {"content": "Bob likes coffee", "tags": ["drinks", "bob"], "document_id": "d2"},
        {"content": "Paris is big"},
    ]
    api.post("/api/banks/alpha/memories/", {"contents": contents}, format="json")

    def texts(query: str) -> list[str]:
        body = api.get(f"/api/banks/alpha/memories/{query}").json()
        return sorted(m["content"] for m in body["memories"])

    assert texts("") == sorted(c["content"] for c in contents)
    assert texts("?q=likes") == ["Alice likes tea", "Bob likes coffee"]
    assert texts("?tag=bob") == ["Bob likes coffee"]
    assert texts("?document_id=d1") == ["Alice likes tea"]


def test_health_version_schema_and_docs(api, db):
    health = api.get("/health")
    assert health.status_code == 200 and health.json()["database"] == "connected"
    assert api.get("/health/live").json()["status"] == "alive"
    version = api.get("/version").json()
    assert isinstance(version["api_version"], str) and len(version["features"]) == 11
    schema = api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/banks/{bank_id}/operations/" in schema.content
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs.content  # assets served locally
