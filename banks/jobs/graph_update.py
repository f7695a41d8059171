"""``graph_update``: weighted links from every memory of the bank to its top-K neighbours by
shared entities (``banks.graph``). Unit = memory.

Units are the memories retained before the operation was created, oldest first (ties by id),
the first ``total`` of them, so a resumed run maps ``progress`` to the same memory. Memories
deleted meanwhile count as done with nothing to write.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from operations.models import Operation
from operations.registry import ChunkOutcome, Job, register
from operations.states import OperationType

from ..graph import LinkCache, link_memories
from ..models import Memory, MemoryLink

SUB_BATCH = 50  # memories per set of queries; the deadline is checked between them


class GraphUpdateJob(Job):
    type = OperationType.GRAPH_UPDATE
    stage = "linking memories"
    single_flight = True

    def validate_payload(self, bank: Any, payload: dict) -> dict:
        # K is fixed at submission, so a resumed or retried run links the same way.
        return {"top_k": settings.HINDSIGHT_GRAPH_TOP_K}

    def count_units(self, bank: Any, payload: dict) -> int:
        return Memory.objects.filter(bank=bank).count()

    def prepare(self, operation: Operation) -> dict:
        ids = list(
            Memory.objects.filter(bank=operation.bank, created_at__lte=operation.created_at)
            .order_by("created_at", "id").values_list("id", flat=True)[: operation.total]
        )
        return {"ids": ids, "cache": LinkCache(settings.HINDSIGHT_GRAPH_MAX_FANOUT),
                "top_k": operation.payload.data.get("top_k", settings.HINDSIGHT_GRAPH_TOP_K)}

    def process_chunk(
        self, operation: Operation, state: dict, start: int, limit: int, deadline: float,
        prepared: None = None,
    ) -> ChunkOutcome:
        end = min(start + limit, operation.total)
        index = start
        while index < end:
            step = min(SUB_BATCH, end - index)
            batch = state["ids"][index : index + step]
            if batch:
                link_memories(operation.bank_id, batch, state["top_k"], state["cache"],
                              operation)
            index += step
            if time.monotonic() >= deadline:
                break
        return ChunkOutcome(units=index - start)

    def summary(self, operation: Operation) -> dict:
        return {"memories_processed": operation.progress, "failed_items_count": 0}

    def result(self, operation: Operation) -> dict:
        return {**self.summary(operation),
                "links_written": MemoryLink.objects.filter(operation=operation).count()}


register(GraphUpdateJob())
