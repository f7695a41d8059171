"""What the official client cannot show: exact error bodies and codes of docs/api.md 2.1, explicit
nulls, the upstream body shapes, and the OpenAPI schema listing both surfaces."""

from __future__ import annotations

import uuid

import pytest

from banks.models import Memory
from operations import transitions
from operations.runner import run_operation
from operations.states import OperationType
from operations.submission import submit
from tests.factories import make_bank, submit_retain

pytestmark = pytest.mark.django_db

BASE = "/v1/default/banks"
JSON = {"format": "json"}

# The exact body hindsight-client 1.1.0 documents for an async retain (docs/api.md 2.3).
CLIENT_RETAIN_BODY = {
    "items": [{"content": "Alice likes tea", "resolve_entities": True, "tags": ["t1"],
               "timestamp": None, "context": None, "metadata": None, "document_id": None,
               "entities": None, "observation_scopes": None, "strategy": None,
               "update_mode": None}],
    "async": False, "document_tags": ["batch"], "operation_id": None,
}


def test_retain_accepts_explicit_nulls_for_every_optional_field(api):
    response = api.post(f"{BASE}/demo/memories", CLIENT_RETAIN_BODY, **JSON)
    assert response.status_code == 200
    assert response.json() == {"success": True, "bank_id": "demo", "items_count": 1,
                               "async": False, "operation_id": None, "operation_ids": None,
                               "usage": None}
    assert Memory.objects.get().tags == ["t1", "batch"]


def test_retain_without_items_is_422_with_the_upstream_entry(api):
    response = api.post(f"{BASE}/demo/memories", {"async": True}, **JSON)
    assert response.status_code == 422
    assert response.json() == {"detail": [
        {"type": "missing", "loc": ["body", "items"], "msg": "Field required"}]}


def test_retain_with_bad_item_fields_locates_each_of_them(api):
    body = {"items": [{"content": "ok", "metadata": {"n": 1}},
                      {"content": "ok", "timestamp": "yesterday"}]}
    response = api.post(f"{BASE}/demo/memories", body, **JSON)
    assert response.status_code == 422
    locs = sorted(entry["loc"] for entry in response.json()["detail"])
    assert locs == [["body", "items", 0, "metadata"], ["body", "items", 1, "timestamp"]]
    assert all({"type", "loc", "msg"} <= set(e) for e in response.json()["detail"])


def test_malformed_json_body_is_422(api):
    response = api.generic("POST", f"{BASE}/demo/memories", "{not json",
                           content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_retain_over_the_batch_limit_is_413(api, settings):
    settings.HINDSIGHT_MAX_BATCH_ITEMS = 3
    body = {"items": [{"content": f"fact {i}"} for i in range(4)]}
    response = api.post(f"{BASE}/demo/memories", body, **JSON)
    assert response.status_code == 413
    assert "HINDSIGHT_MAX_BATCH_ITEMS" in response.json()["detail"]


@pytest.mark.parametrize("method, path", [
    ("get", "/operations"), ("get", "/memories/list"), ("get", "/stats"),
    ("post", "/memories/recall"), ("patch", ""),
])
def test_reads_of_an_unknown_bank_are_404_with_the_bank_named(api, method, path):
    body = {"query": "tea"} if method == "post" else {}
    response = getattr(api, method)(f"{BASE}/nobody{path}", body, **JSON)
    assert response.status_code == 404
    assert response.json() == {"detail": "Bank 'nobody' not found"}


@pytest.mark.parametrize("query, name", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset"),
    ("limit=ten", "limit"), ("status=running", "status"), ("type=bogus", "type"),
    ("exclude_parents=maybe", "exclude_parents"),
])
def test_list_operations_with_bad_query_is_422_located_in_the_query(api, query, name):
    make_bank("demo")
    response = api.get(f"{BASE}/demo/operations?{query}")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["query", name]


def test_get_and_delete_with_a_json_content_type_and_no_body_are_accepted(api):
    op = submit_retain(make_bank("demo"), 3)
    url = f"{BASE}/demo/operations/{op.pk}"
    assert api.generic("GET", url, "", content_type="application/json").status_code == 200
    response = api.generic("DELETE", url, "", content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"success": True, "operation_id": str(op.pk),
                               "message": f"Operation {op.pk} cancelled"}


def test_operation_status_emits_every_key_with_the_compatible_vocabulary(api):
    op = submit_retain(make_bank("demo"), 4)
    assert transitions.claim(op.pk, "test-worker")
    body = api.get(f"{BASE}/demo/operations/{op.pk}?include_payload=true").json()
    assert set(body) == {
        "operation_id", "status", "operation_type", "id", "task_type", "mental_model_id",
        "created_at", "updated_at", "completed_at", "error_message", "retry_count",
        "next_retry_at", "progress", "result_metadata", "details", "child_operations",
        "task_payload"}
    assert (body["status"], body["operation_type"], body["retry_count"]) == (
        "processing", "batch_retain", 0)
    assert set(body["progress"]) == {"stage", "at", "processed", "total", "detail"}
    assert body["progress"]["total"] == 4
    assert len(body["task_payload"]["contents"]) == 4
    transitions.cancel(op.pk)


def test_cancel_of_completed_operation_is_409_with_the_upstream_message(api):
    op = submit_retain(make_bank("demo"), 2)
    run_operation(op.pk)
    response = api.delete(f"{BASE}/demo/operations/{op.pk}")
    assert response.status_code == 409
    assert response.json() == {"detail": (
        f"Operation {op.pk} cannot be cancelled: status is 'completed', only 'pending' and "
        "'processing' operations can be cancelled")}


def test_retry_of_unknown_operation_is_404(api):
    make_bank("demo")
    op_id = uuid.uuid4()
    response = api.post(f"{BASE}/demo/operations/{op_id}/retry")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Operation {op_id} not found for bank demo"}


def test_bank_upsert_accepts_an_empty_body_and_rejects_a_bad_disposition(api):
    response = api.put(f"{BASE}/demo", {}, **JSON)
    assert response.status_code == 200
    assert response.json() == {"bank_id": "demo", "name": "demo", "mission": "",
                               "background": None,
                               "disposition": {"skepticism": 3, "literalism": 3, "empathy": 3}}
    response = api.put(f"{BASE}/demo", {"disposition_empathy": 9}, **JSON)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "disposition_empathy"]


def test_recall_without_query_is_422(api):
    make_bank("demo")
    response = api.post(f"{BASE}/demo/memories/recall", {"budget": None}, **JSON)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"type": "missing", "loc": ["body", "query"], "msg": "Field required"}]


def test_openapi_schema_lists_both_surfaces_with_their_components(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in ("/v1/default/banks", "/v1/default/banks/{bank_id}",
                 "/v1/default/banks/{bank_id}/memories",
                 "/v1/default/banks/{bank_id}/memories/recall",
                 "/v1/default/banks/{bank_id}/memories/list",
                 "/v1/default/banks/{bank_id}/stats",
                 "/v1/default/banks/{bank_id}/operations",
                 "/v1/default/banks/{bank_id}/operations/{operation_id}",
                 "/v1/default/banks/{bank_id}/operations/{operation_id}/retry",
                 "/v1/default/banks/{bank_id}/operations/{operation_id}/delete",
                 "/api/banks/{bank_id}/operations/"):
        assert path in paths, path
    retain = paths["/v1/default/banks/{bank_id}/memories"]["post"]
    request_ref = retain["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref.endswith("/CompatRetainRequestRequest")
    response_ref = retain["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert response_ref.endswith("/CompatRetainResponse")
    components = schema["components"]["schemas"]
    assert "async" in components["CompatRetainResponse"]["required"]
    status_ref = components["CompatOperationStatus"]["properties"]["status"]["$ref"]
    assert "not_found" in components[status_ref.rsplit("/", 1)[1]]["enum"]
    row_ref = components["CompatOperation"]["properties"]["status"]["$ref"]
    assert "processing" in components[row_ref.rsplit("/", 1)[1]]["enum"]
    assert "running" not in components[row_ref.rsplit("/", 1)[1]]["enum"]
    assert "Operation" in components  # the native operation object is still there


def test_completed_status_lists_failed_items_and_counts_without_memory_ids(api):
    contents = [{"content": "fine"}, {"content": "  "}, {"content": "also fine"}]
    op = submit(make_bank("demo"), OperationType.BATCH_RETAIN, {"contents": contents},
                dispatch=False).operation
    run_operation(op.pk)
    body = api.get(f"{BASE}/demo/operations/{op.pk}").json()
    assert body["status"] == "completed"
    metadata = body["result_metadata"]
    assert (metadata["items_count"], metadata["memory_ids_count"],
            metadata["failed_items_count"]) == (3, 2, 1)
    assert metadata["failed_items"] == [{"index": 1, "error": "content must not be empty"}]
    assert "memory_ids" not in metadata
    assert body["progress"]["detail"] == {"failed_items": 1}


def test_list_memories_with_an_unknown_tags_match_is_422(api):
    make_bank("demo")
    response = api.get(f"{BASE}/demo/memories/list?tags=a&tags_match=some")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "tags_match"]


@pytest.mark.parametrize("bank_id", ["%0A", "a%2Fb%0Ac", "%20"])
def test_an_unknown_odd_bank_id_gets_the_json_404(api, bank_id):
    response = api.get(f"{BASE}/{bank_id}/memories/list")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Bank '")


def test_an_item_that_is_not_an_object_is_located_at_its_index(api):
    response = api.post(f"{BASE}/demo/memories", {"items": [{"content": "ok"}, 5]}, **JSON)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "items", 1]]


def test_absurdly_large_paging_values_are_422_not_a_database_error(api):
    make_bank("demo")
    response = api.get(f"{BASE}/demo/memories/list?offset=99999999999999999999")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]


def test_entity_include_options_are_validated(api):
    make_bank("demo")
    body = {"query": "tea", "include": {"entities": {"max_tokens": "many"}}}
    response = api.post(f"{BASE}/demo/memories/recall", body, **JSON)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "include", "entities", "max_tokens"]
