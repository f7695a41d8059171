"""The ``hindsight`` command line and the Python client of the native API."""

from __future__ import annotations

from .client import (
    APIError,
    HindsightClient,
    HindsightClientError,
    OperationCancelled,
    OperationFailed,
    ServerUnreachable,
)

__all__ = [
    "APIError",
    "HindsightClient",
    "HindsightClientError",
    "OperationCancelled",
    "OperationFailed",
    "ServerUnreachable",
]
