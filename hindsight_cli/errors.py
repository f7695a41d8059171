"""What the client raises. Every error is a ``HindsightClientError``; the CLI turns each kind
into one line on stderr and an exit code (``hindsight_cli.main``)."""

from __future__ import annotations

from typing import Any


class HindsightClientError(Exception):
    """Base class of everything this client raises."""


class ServerUnreachable(HindsightClientError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach the Hindsight server at {url} ({reason})")


class InvalidServerURL(HindsightClientError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(f"invalid server URL {url!r}: {reason} (expected http://host:port)")


class APIError(HindsightClientError):
    """The server answered with an error status; ``body`` is its parsed JSON (or ``{}``)."""

    def __init__(self, status_code: int, body: Any, method: str, url: str) -> None:
        self.status_code = status_code
        self.body = body if isinstance(body, dict) else {"detail": body}
        self.method = method
        self.url = url
        super().__init__(f"{status_code} from {method} {url}: {self.detail}")

    @property
    def detail(self) -> str:
        detail = self.body.get("detail")
        if isinstance(detail, str):
            return detail
        # DRF validation errors: {"field": ["message", ...]}, nested for items:
        # {"contents": {"3": {"content": ["..."]}}} -> "contents.3.content: ..."
        return ", ".join(_field_messages(self.body)) or "no detail"

    @property
    def current_status(self) -> str | None:
        """For a 409 on an operation: the status it is in now."""
        return self.body.get("status")


class OperationFailed(HindsightClientError):
    def __init__(self, operation: dict[str, Any]) -> None:
        self.operation = operation
        super().__init__(f"operation {operation['operation_id']} failed: {operation.get('error')}")


class OperationCancelled(HindsightClientError):
    def __init__(self, operation: dict[str, Any]) -> None:
        self.operation = operation
        super().__init__(f"operation {operation['operation_id']} was cancelled")


def _field_messages(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [
            line
            for key, value in errors.items()
            for line in _field_messages(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(errors, list) and all(isinstance(m, str) for m in errors):
        return [f"{prefix}: {'; '.join(errors)}"]
    return [f"{prefix}: {errors}"]
