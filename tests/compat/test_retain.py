"""``retain()`` and ``retain_batch()`` through the official client, synchronous and with
``retain_async=True``, with and without ``operation_id``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hindsight_client_api.exceptions import ApiException

from banks.models import Bank, Memory
from operations.models import Operation
from operations.states import OperationType
from operations.submission import submit
from tests.compat.conftest import op_status, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_retain_stores_every_item_field(hindsight):
    answer = hindsight.retain(
        "demo", "Alice likes tea", timestamp="2024-03-15T10:00:00Z", context="chat",
        document_id="doc-1", metadata={"source": "slack"}, tags=["t1"],
        entities=[{"text": "Alice", "type": "PERSON"}], resolve_entities=False,
        update_mode="replace", strategy="default", observation_scopes="per_tag",
    )
    assert (answer.success, answer.bank_id, answer.items_count, answer.var_async) == (
        True, "demo", 1, False)
    assert answer.operation_id is None
    memory = Memory.objects.get()
    assert (memory.content, memory.context, memory.document_id) == (
        "Alice likes tea", "chat", "doc-1")
    assert memory.timestamp == datetime(2024, 3, 15, 10, tzinfo=UTC)
    assert (memory.metadata, memory.tags) == ({"source": "slack"}, ["t1"])
    assert Bank.objects.filter(bank_id="demo").exists()  # created by its first retain


def test_sync_retain_with_a_datetime_and_unset_timestamps(hindsight):
    hindsight.retain_batch("demo", [
        {"content": "dated", "timestamp": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"content": "timeless", "timestamp": "unset"},
    ])
    stamps = dict(Memory.objects.values_list("content", "timestamp"))
    assert stamps == {"dated": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "timeless": None}


def test_retain_batch_merges_document_tags_and_applies_the_batch_document_id(hindsight):
    hindsight.retain_batch(
        "demo",
        [{"content": "one", "tags": ["a", "batch"]}, {"content": "two", "document_id": "own"}],
        document_id="shared", document_tags=["batch", "b"],
    )
    rows = {m.content: m for m in Memory.objects.all()}
    assert rows["one"].tags == ["a", "batch", "b"]
    assert rows["two"].tags == ["batch", "b"]
    assert (rows["one"].document_id, rows["two"].document_id) == ("shared", "own")


def test_async_retain_answers_at_once_with_an_operation_that_completes(hindsight):
    answer = hindsight.retain_batch("demo", [{"content": f"fact {i}"} for i in range(30)],
                                    retain_async=True)
    assert (answer.success, answer.var_async, answer.items_count) == (True, True, 30)
    uuid.UUID(answer.operation_id)
    final = wait_for(lambda: (s := op_status(hindsight, "demo", answer.operation_id)).status
                     == "completed" and s)
    assert final.progress.processed == 30
    assert Memory.objects.filter(operation_id=answer.operation_id).count() == 30


def test_async_retain_with_operation_id_replays_without_new_work(hindsight):
    op_id = str(uuid.uuid4())
    items = [{"content": f"fact {i}", "tags": ["x"]} for i in range(20)]
    first = hindsight.retain_batch("demo", items, retain_async=True, operation_id=op_id)
    assert first.operation_id == op_id
    wait_for(lambda: op_status(hindsight, "demo", op_id).status == "completed")

    again = hindsight.retain_batch("demo", items, retain_async=True, operation_id=op_id)
    assert (again.operation_id, again.items_count, again.var_async) == (op_id, 20, True)
    assert Operation.objects.count() == 1
    assert Memory.objects.count() == 20


def test_operation_id_used_by_another_bank_is_409(hindsight):
    op_id = str(uuid.uuid4())
    hindsight.retain("first", "Alice likes tea", retain_async=True, operation_id=op_id)
    with pytest.raises(ApiException) as caught:
        hindsight.retain("second", "Alice likes tea", retain_async=True, operation_id=op_id)
    assert caught.value.status == 409
    assert json.loads(caught.value.body) == {"detail": f"operation_id {op_id} is already in use"}
    assert Operation.objects.count() == 1


def test_operation_id_that_is_not_a_uuid_is_422(hindsight):
    with pytest.raises(ApiException) as caught:
        hindsight.retain("demo", "Alice", retain_async=True, operation_id="op-1")
    assert caught.value.status == 422
    [entry] = json.loads(caught.value.body)["detail"]
    assert entry["loc"] == ["body", "operation_id"]
    assert not Operation.objects.exists()


def test_duplicate_document_ids_in_one_async_request_are_400(hindsight):
    with pytest.raises(ApiException) as caught:
        hindsight.retain_batch("demo", [{"content": "a"}, {"content": "b"}],
                               document_id="same", retain_async=True)
    assert caught.value.status == 400
    assert "document_id 'same'" in json.loads(caught.value.body)["detail"]
    assert not Operation.objects.exists()


def test_blank_content_is_422_located_at_the_item(hindsight):
    with pytest.raises(ApiException) as caught:
        hindsight.retain_batch("demo", [{"content": "fine"}, {"content": "   "}])
    assert caught.value.status == 422
    [entry] = json.loads(caught.value.body)["detail"]
    assert entry["loc"] == ["body", "items", 1, "content"]
    assert not Memory.objects.exists()


def test_text_content_blocks_are_joined_into_one_memory(hindsight):
    hindsight.retain("demo", [{"type": "text", "text": "first line"},
                              {"type": "text", "text": "second line"}])
    assert Memory.objects.get().content == "first line\nsecond line"


def test_operation_id_reused_by_this_bank_with_other_items_replays_the_original(hindsight):
    op_id = str(uuid.uuid4())
    hindsight.retain_batch("demo", [{"content": "first"}, {"content": "second"}],
                           retain_async=True, operation_id=op_id)
    wait_for(lambda: op_status(hindsight, "demo", op_id).status == "completed")
    again = hindsight.retain_batch("demo", [{"content": "rebuilt on retry"}],
                                   retain_async=True, operation_id=op_id)
    assert (again.operation_id, again.items_count) == (op_id, 2)
    assert sorted(Memory.objects.values_list("content", flat=True)) == ["first", "second"]


def test_operation_id_of_another_operation_type_is_409(hindsight):
    bank = Bank.objects.create(bank_id="demo", name="demo")
    other = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False).operation
    with pytest.raises(ApiException) as caught:
        hindsight.retain("demo", "Alice", retain_async=True, operation_id=str(other.pk))
    assert caught.value.status == 409
    assert json.loads(caught.value.body) == {
        "detail": f"operation_id {other.pk} is already in use"}
