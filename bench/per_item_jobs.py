"""The common RQ/Celery pattern, for comparison only: one queue job per item, each storing one
memory in its own transaction. ``bench/ingest_rq.py`` enqueues these next to our one job per
operation, on the same workers, in the same run."""

from __future__ import annotations

from django.db import connections, transaction

from banks.items import build_memory
from banks.services import store_memories


def store_item(bank_pk: int, item: dict, index: int) -> None:
    try:
        with transaction.atomic():
            store_memories(bank_pk, None, [build_memory(item, index)])
    finally:
        connections.close_all()
