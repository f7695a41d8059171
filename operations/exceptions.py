"""Domain exceptions. They carry no HTTP; ``hindsight_project.api_errors`` maps them."""

from __future__ import annotations


class HindsightError(Exception):
    code = "error"


class OperationNotFound(HindsightError):
    code = "operation_not_found"

    def __init__(self, operation_id: object, bank_id: str | None = None) -> None:
        self.operation_id = str(operation_id)
        self.bank_id = bank_id
        where = f" for bank {bank_id}" if bank_id else ""
        super().__init__(f"Operation {operation_id} not found{where}")


class BankNotFound(HindsightError):
    code = "bank_not_found"

    def __init__(self, bank_id: str) -> None:
        self.bank_id = bank_id
        super().__init__(f"Bank '{bank_id}' not found")


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


class ExecutorUnavailable(HindsightError):
    code = "executor_unavailable"


# --- Hindsight-compatible surface (API.md §2) -----------------------------------------------------


class InvalidInput(HindsightError):
    """A well-formed request the compatible surface answers with 400 (not a 422 body error)."""

    code = "invalid_input"


class InvalidOperationId(InvalidInput):
    code = "invalid_operation_id"

    def __init__(self, raw: object) -> None:
        self.raw = str(raw)
        super().__init__(f"Invalid operation_id format: {raw}")
