"""``batch_retain``: store each submitted item as a Memory. Unit = item."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from operations.models import Operation, OperationItemFailure
from operations.registry import ChunkOutcome, Job, register
from operations.states import OperationType

from ..items import ItemError, NewMemory, build_memory, validate_contents
from ..models import Memory
from ..services import MemoryRows, insert_memories, memory_rows


@dataclass
class RetainRun:
    """What every chunk of one run needs: the items, and the bank's entity ids met so far."""

    contents: list[dict]
    entity_ids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RetainChunk:
    units: int  # items covered, stored or failed
    rows: MemoryRows
    failures: list[OperationItemFailure]


def retained(operation: Operation) -> dict:
    """What a retain operation wrote, for its detail result: the memories in item order and
    the items that failed (shared by every retain job: items and files)."""
    memory_ids = Memory.objects.filter(operation=operation).order_by("item_index")
    failures = OperationItemFailure.objects.filter(operation=operation).order_by("index")
    return {
        "memory_ids": [str(pk) for pk in memory_ids.values_list("id", flat=True)],
        "failed_items": [{"index": f.index, "error": f.error} for f in failures],
    }


class BatchRetainJob(Job):
    type = OperationType.BATCH_RETAIN
    stage = "retaining"

    def validate_payload(self, bank: Any, payload: dict) -> dict:
        return {"contents": validate_contents(payload.get("contents"))}

    def count_units(self, bank: Any, payload: dict) -> int:
        return len(payload["contents"])

    def prepare(self, operation: Operation) -> RetainRun:
        return RetainRun(operation.payload.data["contents"])

    def prepare_chunk(
        self, operation: Operation, state: RetainRun, start: int, limit: int, deadline: float
    ) -> RetainChunk:
        """Items to rows and entity mentions, before the chunk's transaction (no lock held)."""
        memories: list[NewMemory] = []
        failures: list[OperationItemFailure] = []
        items = state.contents
        end = min(start + limit, len(items))
        index = start
        while index < end:
            try:
                memories.append(build_memory(items[index], index))
            except ItemError as exc:
                failures.append(
                    OperationItemFailure(operation=operation, index=index, error=str(exc))
                )
            index += 1
            # Check the clock every 64 items: cheap, and keeps a chunk near its time budget.
            if index % 64 == 0 and time.monotonic() >= deadline:
                break
        rows = memory_rows(operation.bank_id, operation.pk, memories)
        return RetainChunk(units=index - start, rows=rows, failures=failures)

    def process_chunk(
        self, operation: Operation, state: RetainRun, start: int, limit: int, deadline: float,
        prepared: RetainChunk | None = None,
    ) -> ChunkOutcome:
        chunk = prepared if prepared is not None else self.prepare_chunk(
            operation, state, start, limit, deadline)
        insert_memories(operation.bank_id, chunk.rows, state.entity_ids)
        OperationItemFailure.objects.bulk_create(chunk.failures)
        return ChunkOutcome(units=chunk.units, failed=len(chunk.failures))

    def summary(self, operation: Operation) -> dict:
        return {
            "memory_count": operation.progress - operation.failed_items_count,
            "failed_items_count": operation.failed_items_count,
        }

    def result(self, operation: Operation) -> dict:
        return retained(operation)


register(BatchRetainJob())
