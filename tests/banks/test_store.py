"""``store_memories``, the retain chunk's insert: every column of ``Memory`` is written, and what
the ORM reads back is what the item said (also run on PostgreSQL, where it goes through
``COPY``: tests/scale/test_postgres_suite.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from banks.items import build_memory
from banks.models import Memory, MemoryEntity
from banks.services import MEMORY_COLUMNS, store_memories
from tests.factories import make_bank, submit_retain

pytestmark = pytest.mark.django_db


def test_store_writes_every_memory_column():
    assert set(MEMORY_COLUMNS) == {field.name for field in Memory._meta.concrete_fields}


def test_stored_items_read_back_as_given():
    bank = make_bank()
    operation = submit_retain(bank, 2)
    items = [
        {"content": "Alice met Bob in Zürich", "context": "chat", "document_id": "doc-1",
         "timestamp": "2024-03-15T10:00:00Z", "metadata": {"source": "slack", "ключ": "✓"},
         "tags": ["work", "q1"], "entities": [{"text": "Acme", "type": "org"}]},
        {"content": "plain text, nothing else"},
    ]
    with transaction.atomic():
        store_memories(bank.pk, operation.pk, [build_memory(item, i) for i, item in
                                               enumerate(items)])
    first, second = Memory.objects.filter(bank=bank).order_by("item_index")
    assert (first.content, first.context, first.document_id) == (
        "Alice met Bob in Zürich", "chat", "doc-1")
    assert first.timestamp == datetime(2024, 3, 15, 10, tzinfo=UTC)
    assert first.metadata == {"source": "slack", "ключ": "✓"}
    assert first.tags == ["work", "q1"]
    assert (first.operation_id, first.item_index, first.entity_count) == (operation.pk, 0, 4)
    assert first.created_at is not None
    assert [link.entity.display_name for link in
            MemoryEntity.objects.filter(memory=first).order_by("position")] == [
        "Acme", "Alice", "Bob", "Zürich"]
    assert (second.context, second.document_id, second.timestamp) == ("", None, None)
    assert (second.metadata, second.tags, second.entity_count) == ({}, [], 0)
    # Time-ordered ids, so the indexes holding them grow at their end (banks.models.Memory.id).
    assert first.id.version == second.id.version == 7 and first.id < second.id
