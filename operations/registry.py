"""The job registry: operation type -> the ``Job`` that knows how to do that work.

The engine knows no job type by name. Each app keeps its job types in a ``jobs`` package
(``banks/jobs/``: one module per type, each calling ``register``); ``OperationsConfig.ready``
imports every installed app's ``jobs`` module (like the admin's autodiscovery), and
``HINDSIGHT_JOB_MODULES`` adds or replaces types by module name. A ``Job`` implements the hooks
below; the runner (``operations.runner``) owns everything else: claiming, chunk transactions,
progress, heartbeat, cancellation and the error policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from .exceptions import UnsupportedOperationType
from .models import Operation


@dataclass(frozen=True)
class ChunkOutcome:
    units: int  # units of work finished in this chunk (succeeded + failed)
    failed: int = 0  # of which failed (recorded as OperationItemFailure rows)
    # The stage to show from this chunk on, when it says more than the job's fixed ``stage``
    # (e.g. file_retain's running count of memories, a finer progress than its file units).
    stage: str | None = None


class Job:
    """One operation type. Subclasses set ``type``/``stage`` and implement the hooks."""

    type: ClassVar[str]
    stage: ClassVar[str] = "processing"
    # Maintenance of a whole bank: at most one runs per bank, and submitting one while an
    # identical one is pending returns that one (docs/scheduling.md).
    single_flight: ClassVar[bool] = False

    def validate_payload(self, bank: Any, payload: dict) -> dict:
        """Check and normalise a submitted payload; raise ``InvalidInput`` (field errors) or
        ``LimitExceeded`` on bad input."""
        return payload

    def count_units(self, bank: Any, payload: dict) -> int:
        """The operation's ``total``, known up front."""
        raise NotImplementedError

    def prepare(self, operation: Operation) -> Any:
        """Load what every chunk needs (outside any transaction); returned as the run state."""
        return None

    def prepare_chunk(
        self, operation: Operation, state: Any, start: int, limit: int, deadline: float
    ) -> Any:
        """Optional first half of a chunk, run *before* its transaction: work that needs no
        database lock (parsing, extraction, building rows), so the write transaction -- which
        holds SQLite's only write lock -- stays short. The result reaches ``process_chunk`` as
        ``prepared``; the default prepares nothing."""
        return None

    def process_chunk(
        self, operation: Operation, state: Any, start: int, limit: int, deadline: float,
        prepared: Any = None,
    ) -> ChunkOutcome:
        """Process units ``start, start+1, ...`` until ``limit`` units or ``deadline``
        (``time.monotonic()``) whichever first, writing their results. Runs inside the chunk's
        transaction: everything written here commits with the progress, or not at all.
        ``prepared`` is what ``prepare_chunk`` returned for the same ``start``."""
        raise NotImplementedError

    def summary(self, operation: Operation) -> dict:
        """Small result for list rows (no per-item arrays); only asked for terminal rows."""
        return {"failed_items_count": operation.failed_items_count}

    def result(self, operation: Operation) -> dict:
        """Full result for the detail view; only asked for terminal rows."""
        return self.summary(operation)


_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> Job:
    """Make ``job`` the implementation of ``job.type`` (replacing any earlier one)."""
    _REGISTRY[job.type] = job
    return job


def get_job(operation_type: str) -> Job:
    try:
        return _REGISTRY[operation_type]
    except KeyError:
        raise UnsupportedOperationType(
            f"unsupported operation type {operation_type!r}; supported: "
            f"{', '.join(supported_types())}"
        ) from None


def supported_types() -> list[str]:
    return sorted(_REGISTRY)


def single_flight_types() -> frozenset[str]:
    return frozenset(t for t, job in _REGISTRY.items() if job.single_flight)


def render_result(operation: Operation) -> str:
    """The detail ``result`` of a terminal operation as compact JSON text: what is stored with
    the terminal state and sent as is on every later read."""
    result = get_job(operation.type).result(operation)
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))
