"""``regenerate_observations``: one observation per entity of the bank (or of the named
entities), synthesised by ``banks.observations``. Unit = entity.

Units are the bank's entities in id order, the first ``total`` of them: entities are only ever
added (with higher ids) or deleted with their bank, so a resumed run maps ``progress`` to the
same entity, and entities created after the submission are left for the next run.
"""

from __future__ import annotations

import time
from typing import Any

from operations.exceptions import InvalidInput
from operations.models import Operation
from operations.registry import ChunkOutcome, Job, register
from operations.states import OperationType

from ..entities import normalise
from ..models import Entity
from ..observations import regenerate

SUB_BATCH = 100  # entities per set of queries; the deadline is checked between them
MAX_NAMED = 10_000


class RegenerateObservationsJob(Job):
    type = OperationType.REGENERATE_OBSERVATIONS
    stage = "synthesising observations"
    single_flight = True

    def validate_payload(self, bank: Any, payload: dict) -> dict:
        names = payload.get("entities")
        if names is None:
            return {}
        if len(names) > MAX_NAMED:
            raise InvalidInput({"entities": [f"At most {MAX_NAMED} names."]})
        keys = sorted({normalise(name) for name in names} - {""})
        if not keys:
            raise InvalidInput({"entities": ["Give at least one entity name."]})
        known = set(Entity.objects.filter(bank=bank, name__in=keys)
                    .values_list("name", flat=True))
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise InvalidInput({"entities": [f"Unknown entity: {key}" for key in unknown[:20]]})
        return {"entities": keys}

    def count_units(self, bank: Any, payload: dict) -> int:
        if "entities" in payload:
            return len(payload["entities"])
        return Entity.objects.filter(bank=bank).count()

    def prepare(self, operation: Operation) -> list[int]:
        entities = Entity.objects.filter(bank=operation.bank)
        names = operation.payload.data.get("entities")
        if names is not None:
            entities = entities.filter(name__in=names)
        return list(entities.order_by("id").values_list("id", flat=True)[: operation.total])

    def process_chunk(
        self, operation: Operation, state: list[int], start: int, limit: int, deadline: float,
        prepared: None = None,
    ) -> ChunkOutcome:
        end = min(start + limit, operation.total)
        index = start
        while index < end:
            step = min(SUB_BATCH, end - index)
            regenerate(state[index : index + step], operation)
            index += step
            if time.monotonic() >= deadline:
                break
        return ChunkOutcome(units=index - start)

    def summary(self, operation: Operation) -> dict:
        return {"entities_processed": operation.progress, "failed_items_count": 0}


register(RegenerateObservationsJob())
