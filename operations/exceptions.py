"""The engine's exceptions, and the base every domain exception derives from.

They carry no HTTP: each surface's one exception handler maps them (the native API in
``hindsight_project.api_errors``, the Hindsight-compatible surface in
``hindsight_project.compat.errors``). The banks domain adds its own in ``banks.exceptions``."""

from __future__ import annotations

from typing import Any


class HindsightError(Exception):
    code = "error"


class OperationNotFound(HindsightError):
    code = "operation_not_found"

    def __init__(self, operation_id: object, bank_id: str | None = None) -> None:
        self.operation_id = str(operation_id)
        self.bank_id = bank_id
        where = f" for bank {bank_id}" if bank_id else ""
        super().__init__(f"Operation {operation_id} not found{where}")


class InvalidTransition(HindsightError):
    """A compare-and-set found the operation in a state the transition may not leave."""

    code = "invalid_transition"

    def __init__(self, operation_id: object, action: str, status: str) -> None:
        self.operation_id = str(operation_id)
        self.action = action
        self.status = status
        super().__init__(f"Operation {operation_id} cannot be {action}: status is '{status}'")


class IdempotencyConflict(HindsightError):
    code = "idempotency_conflict"

    def __init__(self, operation_id: object) -> None:
        self.operation_id = str(operation_id)
        super().__init__(
            f"operation_id {operation_id} is already in use with a different request"
        )


class LimitExceeded(HindsightError):
    """Input over a configured limit (413)."""

    code = "limit_exceeded"

    def __init__(self, limit_name: str, limit: int, message: str) -> None:
        self.limit_name = limit_name
        self.limit = limit
        super().__init__(message)


class UnsupportedOperationType(HindsightError):
    code = "unsupported_type"


class JobFailed(HindsightError):
    """Raised by a job when the operation as a whole cannot go on (an expected failure)."""

    code = "job_failed"


class TransientError(HindsightError):
    """Raised by a job when the failure may pass (a service briefly gone, a lock timeout): the
    operation goes back to ``pending`` and runs again after a backoff (docs/scheduling.md)."""

    code = "transient_error"


class ExecutorUnavailable(HindsightError):
    code = "executor_unavailable"


class InvalidInput(HindsightError):
    """Input that fails validation, as field errors: ``{"field": ["message", ...], ...}``
    (nested for lists of items, e.g. ``{"contents": {"3": {"content": [...]}}}``)."""

    code = "invalid"

    def __init__(self, errors: dict[str, Any]) -> None:
        self.errors = errors
        super().__init__(f"invalid input: {errors}")


class InvalidRequest(HindsightError):
    """A well-formed request that cannot be done as asked (400 with a message)."""

    code = "invalid_request"


class InvalidOperationId(OperationNotFound):
    """A path or argument that is not an operation id at all. Nothing can have that id, so the
    native API answers as for an unknown id (404); the compatible surface says 400."""

    code = "operation_not_found"

    def __init__(self, raw: object, bank_id: str | None = None) -> None:
        super().__init__(raw, bank_id)
        self.raw = str(raw)


class AmbiguousOperationId(HindsightError):
    """An id prefix (the command line accepts the first 8+ hex digits) that matches several
    operations."""

    code = "ambiguous_operation_id"

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(f"Operation id prefix {prefix} matches several operations; give more")


class WebhookNotFound(HindsightError):
    """Unknown webhook, or one of another bank (404 either way)."""

    code = "webhook_not_found"

    def __init__(self, webhook_id: object, what: str = "Webhook") -> None:
        self.webhook_id = str(webhook_id)
        super().__init__(f"{what} {webhook_id} not found")


class DeliveryNotFound(WebhookNotFound):
    code = "delivery_not_found"

    def __init__(self, delivery_id: object) -> None:
        super().__init__(delivery_id, "Delivery")
