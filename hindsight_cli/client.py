"""The Python client of the native API (docs/api.md 1), used by the ``hindsight`` CLI and by the
snippets in ``docs/cli.md``. Plain dicts in the documented wire format go in and come out.

Only idempotent calls are retried (on 429/503, with jittered exponential backoff that honours
``Retry-After``): reads, deletes, cancels (cancelling a cancelled operation is a no-op) and async
retains, which carry an ``operation_id`` generated here so that a repeated request returns the
original operation instead of starting the work twice. File uploads (``retain_files``) are
multipart and stream each file from disk.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from .errors import (
    APIError,
    HindsightClientError,
    InvalidServerURL,
    OperationCancelled,
    OperationFailed,
    ServerUnreachable,
)
from .uploads import CountingFile, file_part
from .webhooks_client import WebhooksMixin

DEFAULT_URL = "http://localhost:8888"
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
ACTIVE_STATUSES = ("pending", "running")
RETRY_STATUSES = frozenset({429, 503})
# The server caps a long-poll at 60 s; the read timeout must outlast the longest one we ask for.
LONG_POLL_SECONDS = 30.0

__all__ = [
    "APIError",
    "HindsightClient",
    "HindsightClientError",
    "InvalidServerURL",
    "OperationCancelled",
    "OperationFailed",
    "ServerUnreachable",
]


def check_url(url: str) -> str:
    """The base URL without its trailing slash; ``InvalidServerURL`` unless http(s)://host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidServerURL(url, str(exc)) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidServerURL(url, "it needs an http:// or https:// scheme and a host")
    return url.rstrip("/")


def _item(content: str | dict[str, Any]) -> dict[str, Any]:
    return {"content": content} if isinstance(content, str) else dict(content)


class HindsightClient(WebhooksMixin):
    """``HindsightClient(base_url=None, api_key=None)``; both default to the environment
    (``HINDSIGHT_API_URL``, ``HINDSIGHT_API_KEY``) and then to ``http://localhost:8888``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = check_url(base_url or os.environ.get("HINDSIGHT_API_URL") or DEFAULT_URL)
        api_key = api_key if api_key is not None else os.environ.get("HINDSIGHT_API_KEY")
        headers = {"Accept": "application/json", "User-Agent": "hindsight-cli"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HindsightClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _delay(self, attempt: int, response: httpx.Response) -> float:
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.replace(".", "", 1).isdigit():
            return min(float(retry_after), 30.0)
        # Full jitter: clients that failed together do not come back together.
        return random.uniform(0, self.backoff * (2**attempt))

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        ok: Iterable[int] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; raise ``ServerUnreachable`` or ``APIError`` (any 4xx/5xx not in
        ``ok``). GET/DELETE count as idempotent unless told otherwise."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE", "PUT")
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                raise ServerUnreachable(self.base_url, f"timed out: {exc}") from exc
            except httpx.TransportError as exc:
                raise ServerUnreachable(self.base_url, str(exc) or type(exc).__name__) from exc
            if (
                idempotent
                and response.status_code in RETRY_STATUSES
                and attempt < self.max_retries
            ):
                time.sleep(self._delay(attempt, response))
                attempt += 1
                continue
            if response.status_code >= 400 and response.status_code not in ok:
                try:
                    body = response.json()
                except ValueError:
                    # A proxy's HTML error page: keep it to one short line.
                    text = " ".join(response.text.split())[:200]
                    body = {"detail": text or response.reason_phrase}
                raise APIError(response.status_code, body, method, str(response.request.url))
            return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    # -- banks ------------------------------------------------------------------------------

    def list_banks(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return self._json("GET", "/api/banks/", params={"limit": limit, "offset": offset})["banks"]

    def get_bank(self, bank_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/banks/{_quote(bank_id)}/")

    def create_bank(
        self, bank_id: str, name: str | None = None, mission: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"bank_id": bank_id}
        if name is not None:
            body["name"] = name
        if mission is not None:
            body["mission"] = mission
        # Creating an existing bank answers 200 with it: safe to repeat.
        return self._json("POST", "/api/banks/", json=body, idempotent=True)

    def delete_bank(self, bank_id: str) -> None:
        self.request("DELETE", f"/api/banks/{_quote(bank_id)}/")

    # -- memories ---------------------------------------------------------------------------

    def retain(
        self,
        bank_id: str,
        contents: list[str | dict[str, Any]] | str,
        *,
        async_: bool = False,
        operation_id: str | None = None,
    ) -> dict[str, Any]:
        """Retain items (strings or item dicts). Sync: ``{"memory_ids", "failed_items", ...}``
        once stored. Async: the operation object, at once."""
        if isinstance(contents, str):
            contents = [contents]
        if async_ and operation_id is None:
            operation_id = str(uuid.uuid4())
        body: dict[str, Any] = {"contents": [_item(c) for c in contents], "async": async_}
        if operation_id is not None:
            body["operation_id"] = str(operation_id)
        # A sync retain is long work in one request: give it the time a big batch needs.
        timeout = self.timeout if async_ else max(self.timeout, 300.0)
        return self._json(
            "POST", f"/api/banks/{_quote(bank_id)}/memories/", json=body,
            idempotent=operation_id is not None, timeout=timeout,
        )

    def retain_batch_async(
        self,
        bank_id: str,
        contents: list[str | dict[str, Any]],
        operation_id: str | None = None,
    ) -> dict[str, Any]:
        """Submit a batch as one background operation; returns the operation object
        (``operation_id``, ``status`` = ``pending``, ``total``...)."""
        return self.retain(bank_id, contents, async_=True, operation_id=operation_id)

    def retain_files(
        self,
        bank_id: str,
        files: Sequence[str | os.PathLike[str] | tuple[str, bytes]],
        *,
        async_: bool = False,
        context: str | None = None,
        tags: Sequence[str] = (),
        files_metadata: Sequence[dict[str, Any]] | None = None,
        operation_id: str | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Upload documents (PDF, DOCX, HTML, Markdown, text, JSON, CSV; paths or
        ``(name, bytes)``) as one ``file_retain`` operation. Each file is a document, its text
        split into memories; ``files_metadata`` (one dict per file) may give its
        ``document_id``, ``context``, ``tags``, ``metadata``, ``timestamp``. Sync: ``{"memory_ids",
        "failed_items", ...}`` once stored; async: the operation object, at once. ``on_sent``
        is called with each number of bytes of the files sent (upload progress)."""
        if async_ and operation_id is None:
            operation_id = str(uuid.uuid4())
        data: dict[str, Any] = {"async": "true" if async_ else "false"}
        if context is not None:
            data["context"] = context
        if tags:
            data["tags"] = list(tags)
        if files_metadata is not None:
            data["files_metadata"] = json.dumps(list(files_metadata))
        if operation_id is not None:
            data["operation_id"] = str(operation_id)
        parts = [("files", file_part(item, on_sent)) for item in files]
        try:
            timeout = self.timeout if async_ else max(self.timeout, 300.0)
            return self._json(
                "POST", f"/api/banks/{_quote(bank_id)}/files/", data=data, files=parts,
                idempotent=operation_id is not None, timeout=max(timeout, 120.0),
            )
        finally:
            for _, (_, content, _) in parts:
                if isinstance(content, CountingFile):
                    content.close()

    def recall(self, bank_id: str, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Memories ranked by relevance: ``[{"memory_id", "content", "score", ...}]``."""
        body = {"query": query, "limit": limit}
        data = self._json(
            "POST", f"/api/banks/{_quote(bank_id)}/memories/recall/", json=body, idempotent=True
        )
        return data["results"]

    # -- operations -------------------------------------------------------------------------

    def list_operations_page(
        self,
        bank_id: str,
        status: str | list[str] | None = None,
        limit: int = 20,
        offset: int = 0,
        type: str | list[str] | None = None,
    ) -> dict[str, Any]:
        """The list envelope: ``{"total", "limit", "offset", "next_cursor", "operations"}``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if type:
            params["type"] = type if isinstance(type, str) else ",".join(type)
        return self._json("GET", f"/api/banks/{_quote(bank_id)}/operations/", params=params)

    def list_operations(
        self,
        bank_id: str,
        status: str | list[str] | None = None,
        limit: int = 20,
        offset: int = 0,
        type: str | list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Operations of a bank, newest first."""
        return self.list_operations_page(bank_id, status, limit, offset, type)["operations"]

    def get_operation(self, bank_id: str, operation_id: str) -> dict[str, Any]:
        return self._json("GET", _op_path(bank_id, operation_id))

    def poll_operation(
        self, bank_id: str, operation_id: str, etag: str | None, wait: float = LONG_POLL_SECONDS
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Long-poll: returns ``(operation, etag)`` as soon as it differs from ``etag``, or
        ``(None, etag)`` when ``wait`` seconds passed without a change."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self.request(
            "GET", _op_path(bank_id, operation_id), params={"wait": f"{wait:g}"},
            headers=headers, ok=(304,), timeout=max(self.timeout, wait + 15.0),
        )
        new_etag = response.headers.get("ETag", etag)
        if response.status_code == 304:
            return None, new_etag
        return response.json(), new_etag

    def cancel_operation(self, bank_id: str, operation_id: str) -> dict[str, Any]:
        """Cancel a pending or running operation (no-op on a cancelled one); 409 otherwise."""
        return self._json("POST", f"{_op_path(bank_id, operation_id)}cancel/", idempotent=True)

    def cancel_operations(
        self,
        bank_id: str,
        status: list[str] | None = None,
        operation_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """Bulk cancel in one server-side pass, e.g. ``status=["pending"]``; returns
        ``{"cancelled", "already_terminal", "not_found", "operation_ids"}``."""
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = list(status)
        if operation_ids is not None:
            body["operation_ids"] = [str(i) for i in operation_ids]
        return self._json(
            "POST", f"/api/banks/{_quote(bank_id)}/operations/cancel/", json=body, idempotent=True
        )

    def retry_operation(self, bank_id: str, operation_id: str) -> dict[str, Any]:
        """A failed or cancelled operation back to pending; it resumes from its progress."""
        return self._json("POST", f"{_op_path(bank_id, operation_id)}retry/")

    def delete_operation(self, bank_id: str, operation_id: str) -> None:
        self.request("DELETE", _op_path(bank_id, operation_id))

    def follow_operation(
        self, bank_id: str, operation_id: str, min_interval: float = 0.0,
        timeout: float | None = None,
    ) -> Iterable[dict[str, Any]]:
        """Yield the operation each time it changes (long-poll, no busy polling), ending with
        its terminal state. ``min_interval`` spaces requests out; ``timeout`` raises
        ``TimeoutError``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        operation, etag = self.poll_operation(bank_id, operation_id, None, wait=0)
        while True:
            if operation is not None:
                yield operation
                if operation["status"] in TERMINAL_STATUSES:
                    return
            sent = time.monotonic()
            wait = LONG_POLL_SECONDS
            if deadline is not None:
                if sent >= deadline:
                    raise TimeoutError(f"operation {operation_id} still running after {timeout}s")
                wait = max(0.0, min(wait, deadline - sent))
            operation, etag = self.poll_operation(bank_id, operation_id, etag, wait=wait)
            pause = min_interval - (time.monotonic() - sent)
            if operation is not None and pause > 0:
                time.sleep(pause)

    def wait_for_operation(
        self,
        bank_id: str,
        operation_id: str,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any] | None:
        """Block until the operation is terminal and return its ``result``; raise
        ``OperationFailed`` / ``OperationCancelled``. Uses long-poll; ``poll_interval`` is the
        least time between two requests while progress changes."""
        operation: dict[str, Any] = {}
        for operation in self.follow_operation(bank_id, operation_id, poll_interval, timeout):
            if on_progress is not None:
                on_progress(operation)
        if operation["status"] == "failed":
            raise OperationFailed(operation)
        if operation["status"] == "cancelled":
            raise OperationCancelled(operation)
        return operation["result"]


def _quote(bank_id: str) -> str:
    return quote(bank_id, safe="")


def _op_path(bank_id: str, operation_id: str) -> str:
    return f"/api/banks/{_quote(bank_id)}/operations/{_quote(str(operation_id))}/"
