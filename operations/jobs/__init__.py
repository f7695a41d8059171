"""The job registry: operation type -> the module that knows how to do that work.

Adding an operation type is adding one module here that defines a ``Job`` subclass and registers
it; the runner, API, admin and commands need nothing else.
"""

from __future__ import annotations

from ..exceptions import UnsupportedOperationType
from .base import ChunkOutcome, Job

_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> Job:
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


# Importing a job module registers it.
# graph_update and regenerate_observations: the memory engine (issue 6).
from . import batch_retain, graph_update, regenerate_observations  # noqa: E402

__all__ = [
    "ChunkOutcome", "Job", "batch_retain", "get_job", "graph_update", "regenerate_observations",
    "register", "supported_types",
]
