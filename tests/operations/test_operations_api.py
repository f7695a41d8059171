"""The native operation endpoints (docs/api.md 1.2-1.3): submit, get, ETag/long-poll, cancel,
bulk cancel, retry, delete, listing with filters and both pagination modes, bad input."""

from __future__ import annotations

import time
import uuid

import pytest

from operations import transitions
from operations.models import Operation
from operations.states import OperationStatus
from tests.factories import items, submit_retain

S = OperationStatus
pytestmark = pytest.mark.django_db
URL = "/api/banks/{bank}/operations/"


def ops_url(bank: str = "alpha", suffix: str = "") -> str:
    return URL.format(bank=bank) + suffix


def test_submit_returns_202_with_location_and_operation(api, bank):
    response = api.post(ops_url(), {"type": "batch_retain", "contents": items(3)}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == S.PENDING and body["total"] == 3 and body["progress"] == 0
    assert body["bank_id"] == "alpha" and body["type"] == "batch_retain"
    assert response["Location"] == ops_url(suffix=f"{body['operation_id']}/")
    assert body["result"] is None and body["error"] is None
    assert set(body) >= {"operation_id", "created_at", "started_at", "completed_at", "stage",
                         "failed_items_count", "attempt", "updated_at"}


def test_submit_of_unknown_type_is_400_naming_the_field(api, bank):
    response = api.post(ops_url(), {"type": "bogus"}, format="json")
    assert response.status_code == 400 and "type" in response.json()


def test_submit_with_malformed_items_is_400_with_per_index_messages(api, bank):
    contents = [{"content": "ok"}, {"content": 5}, "nope", {"content": "x", "tags": "t"}]
    response = api.post(ops_url(), {"type": "batch_retain", "contents": contents}, format="json")
    assert response.status_code == 400
    errors = response.json()["contents"]
    assert set(errors) == {"1", "2", "3"}
    assert "content" in errors["1"] and "tags" in errors["3"]
    assert not Operation.objects.exists()


def test_batch_over_item_limit_is_413_naming_the_limit(api, bank, settings):
    settings.HINDSIGHT_MAX_BATCH_ITEMS = 5
    response = api.post(ops_url(), {"type": "batch_retain", "contents": items(6)}, format="json")
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_BATCH_ITEMS"


def test_item_content_over_byte_limit_is_413(api, bank, settings):
    settings.HINDSIGHT_MAX_CONTENT_BYTES = 100
    body = {"type": "batch_retain", "contents": [{"content": "é" * 60}]}
    response = api.post(ops_url(), body, format="json")
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_CONTENT_BYTES"


def test_body_over_size_limit_is_413(api, bank, settings):
    settings.HINDSIGHT_MAX_BODY_BYTES = 2048
    body = {"type": "batch_retain", "contents": items(10, size=400)}
    response = api.post(ops_url(), body, format="json")
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_BODY_BYTES"


def test_same_operation_id_and_body_returns_the_original_operation(api, bank):
    op_id = str(uuid.uuid4())
    body = {"type": "batch_retain", "contents": items(3), "operation_id": op_id}
    first = api.post(ops_url(), body, format="json")
    again = api.post(ops_url(), body, format="json")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["operation_id"] == op_id
    assert Operation.objects.count() == 1


def test_same_operation_id_with_other_body_is_409(api, bank):
    op_id = str(uuid.uuid4())
    api.post(ops_url(), {"type": "batch_retain", "contents": items(3), "operation_id": op_id},
             format="json")
    response = api.post(
        ops_url(), {"type": "batch_retain", "contents": items(4), "operation_id": op_id},
        format="json",
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"operation_id {op_id} is already in use with a different request",
        "code": "idempotency_conflict"}
    assert Operation.objects.count() == 1


def test_operation_id_of_another_bank_is_409(api, bank, other_bank):
    op_id = str(uuid.uuid4())
    body = {"type": "batch_retain", "contents": items(3), "operation_id": op_id}
    api.post(ops_url(), body, format="json")
    response = api.post(ops_url("beta"), body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert op_id in response.json()["detail"]


def test_idempotency_key_header_replays_the_same_operation(api, bank):
    body = {"type": "batch_retain", "contents": items(2)}
    first = api.post(ops_url(), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(ops_url(), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 200
    assert first.json()["operation_id"] == again.json()["operation_id"]
    other = api.post(ops_url(), {"type": "batch_retain", "contents": items(5)}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 409


def test_get_unknown_or_malformed_operation_is_404(api, bank):
    assert api.get(ops_url(suffix=f"{uuid.uuid4()}/")).status_code == 404
    assert api.get(ops_url(suffix="not-a-uuid/")).status_code == 404


def test_operation_of_another_bank_is_404(api, bank, other_bank):
    op = submit_retain(other_bank)
    assert api.get(ops_url(suffix=f"{op.pk}/")).status_code == 404
    assert api.post(ops_url(suffix=f"{op.pk}/cancel/")).status_code == 404


def test_unknown_bank_is_404(api, db):
    assert api.get(ops_url("nobody")).status_code == 404


def test_get_returns_etag_and_304_when_unchanged(api, bank):
    op = submit_retain(bank)
    first = api.get(ops_url(suffix=f"{op.pk}/"))
    assert first.status_code == 200 and first["ETag"]
    again = api.get(ops_url(suffix=f"{op.pk}/"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_long_poll_waits_then_answers_304_when_nothing_changed(api, bank):
    op = submit_retain(bank)
    etag = api.get(ops_url(suffix=f"{op.pk}/"))["ETag"]
    started = time.monotonic()
    response = api.get(ops_url(suffix=f"{op.pk}/?wait=0.5"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert time.monotonic() - started >= 0.45


@pytest.mark.parametrize("wait", ["61", "-1", "soon"])
def test_wait_outside_0_to_60_seconds_is_400(api, bank, wait):
    op = submit_retain(bank)
    response = api.get(ops_url(suffix=f"{op.pk}/?wait={wait}"))
    assert response.status_code == 400 and "wait" in response.json()


def test_cancel_returns_cancelled_operation_and_is_idempotent(api, bank):
    op = submit_retain(bank)
    first = api.post(ops_url(suffix=f"{op.pk}/cancel/"))
    assert first.status_code == 200 and first.json()["status"] == S.CANCELLED
    assert first.json()["completed_at"] is not None
    assert api.post(ops_url(suffix=f"{op.pk}/cancel/")).status_code == 200


def test_cancel_of_completed_operation_returns_409_with_status(api, bank):
    op = submit_retain(bank)
    transitions.claim(op.pk, "w")
    transitions.complete(op.pk, "w")
    response = api.post(ops_url(suffix=f"{op.pk}/cancel/"))
    assert response.status_code == 409
    assert response.json()["status"] == S.COMPLETED


def test_bulk_cancel_reports_per_outcome_counts(api, bank):
    pending = [submit_retain(bank) for _ in range(3)]
    done = submit_retain(bank)
    transitions.claim(done.pk, "w")
    transitions.complete(done.pk, "w")
    ids = [str(op.pk) for op in pending[:2]] + [str(done.pk), str(uuid.uuid4()), "junk"]
    response = api.post(ops_url(suffix="cancel/"), {"operation_ids": ids}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["cancelled"], body["already_terminal"], body["not_found"]) == (2, 1, 2)
    assert sorted(body["operation_ids"]) == sorted(str(op.pk) for op in pending[:2])
    by_status = api.post(ops_url(suffix="cancel/"), {"status": ["pending"]}, format="json")
    assert by_status.json()["cancelled"] == 1


def test_bulk_cancel_needs_ids_or_status_and_caps_ids(api, bank):
    assert api.post(ops_url(suffix="cancel/"), {}, format="json").status_code == 400
    ids = [str(uuid.uuid4()) for _ in range(1001)]
    response = api.post(ops_url(suffix="cancel/"), {"operation_ids": ids}, format="json")
    assert response.status_code == 413


def test_bulk_cancel_never_touches_another_bank(api, bank, other_bank):
    theirs = submit_retain(other_bank)
    response = api.post(ops_url(suffix="cancel/"), {"operation_ids": [str(theirs.pk)]},
                        format="json")
    assert response.json()["not_found"] == 1
    assert Operation.objects.get(pk=theirs.pk).status == S.PENDING


def test_retry_is_202_for_cancelled_and_409_for_pending(api, bank):
    op = submit_retain(bank)
    assert api.post(ops_url(suffix=f"{op.pk}/retry/")).status_code == 409
    transitions.cancel(op.pk)
    response = api.post(ops_url(suffix=f"{op.pk}/retry/"))
    assert response.status_code == 202 and response.json()["status"] == S.PENDING


def test_delete_of_terminal_operation_keeps_its_memories(api, bank):
    response = api.post("/api/banks/alpha/memories/", {"contents": items(2)}, format="json")
    op_id = response.json()["operation_id"]
    assert api.delete(ops_url(suffix=f"{op_id}/")).status_code == 204
    assert not Operation.objects.filter(pk=op_id).exists()
    assert bank.memories.count() == 2


def test_delete_of_active_operation_is_409(api, bank):
    op = submit_retain(bank)
    response = api.delete(ops_url(suffix=f"{op.pk}/"))
    assert response.status_code == 409 and response.json()["status"] == S.PENDING
