"""``batch_retain``: store each submitted item as a Memory. Unit = item."""

from __future__ import annotations

import time
from typing import Any

from banks.items import ItemError, NewMemory, build_memory, validate_contents
from banks.models import Memory
from banks.services import store_memories

from ..models import Operation, OperationItemFailure
from ..states import OperationType
from . import register
from .base import ChunkOutcome, Job


class BatchRetainJob(Job):
    type = OperationType.BATCH_RETAIN
    stage = "retaining"

    def validate_payload(self, bank: Any, payload: dict) -> dict:
        return {"contents": validate_contents(payload.get("contents"))}

    def count_units(self, bank: Any, payload: dict) -> int:
        return len(payload["contents"])

    def prepare(self, operation: Operation) -> list[dict]:
        return operation.payload.data["contents"]

    def process_chunk(
        self, operation: Operation, state: list[dict], start: int, limit: int, deadline: float
    ) -> ChunkOutcome:
        memories: list[NewMemory] = []
        failures: list[OperationItemFailure] = []
        end = min(start + limit, len(state))
        index = start
        while index < end:
            try:
                memories.append(build_memory(state[index], index))
            except ItemError as exc:
                failures.append(
                    OperationItemFailure(operation=operation, index=index, error=str(exc))
                )
            index += 1
            # Check the clock every 64 items: cheap, and keeps a chunk near its time budget.
            if index % 64 == 0 and time.monotonic() >= deadline:
                break
        store_memories(operation.bank_id, operation.pk, memories)
        OperationItemFailure.objects.bulk_create(failures)
        return ChunkOutcome(units=index - start, failed=len(failures))

    def summary(self, operation: Operation) -> dict:
        return {
            "memory_count": operation.progress - operation.failed_items_count,
            "failed_items_count": operation.failed_items_count,
        }

    def result(self, operation: Operation) -> dict:
        memory_ids = Memory.objects.filter(operation=operation).order_by("item_index")
        failures = OperationItemFailure.objects.filter(operation=operation).order_by("index")
        return {
            "memory_ids": [str(pk) for pk in memory_ids.values_list("id", flat=True)],
            "failed_items": [{"index": f.index, "error": f.error} for f in failures],
        }


register(BatchRetainJob())
