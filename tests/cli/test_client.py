"""The Python client's HTTP policy: which calls are retried on 429/503 (and how long it waits),
the auth header, and the error lines for answers our own server does not give yet (401).
A real HTTP server plays the scripted answers; the live Django server covers the rest."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from hindsight_cli.client import APIError, HindsightClient, OperationCancelled, OperationFailed
from operations import transitions
from operations.services import cancel_operation
from tests.cli.conftest import WORKER, advance, running_operation

OP_ID = "5f0c1d0e-8a51-4c6e-9d2a-0d6a3c0b9e11"


class ScriptedServer:
    """Answers each request with the next scripted ``(status, headers, body)``; records what
    it received."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict, object]] = []
        self.seen: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.seen.append({"method": self.command, "path": self.path,
                                    "headers": dict(self.headers),
                                    "body": self.rfile.read(length) if length else b"",
                                    "at": time.monotonic()})
                status, headers, body = server.script.pop(0) if server.script else (
                    500, {}, {"detail": "script exhausted"})
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    server = ScriptedServer()
    yield server
    server.close()


def operation(status: str = "running") -> dict:
    return {"operation_id": OP_ID, "bank_id": "demo", "type": "batch_retain", "status": status,
            "progress": 1, "total": 2, "error": None, "result": None}


def test_reads_are_retried_on_503_and_429_with_backoff(scripted, monkeypatch):
    # Full jitter draws each wait from [0, backoff * 2**attempt]: take the top of the range so
    # the waits are known (0.2 s then 0.4 s) and the gaps between requests must cover them.
    monkeypatch.setattr("hindsight_cli.client.random.uniform", lambda low, high: high)
    scripted.script = [(503, {}, {"detail": "busy"}), (429, {}, {"detail": "slow down"}),
                       (200, {}, operation())]
    with HindsightClient(scripted.url, backoff=0.2) as client:
        assert client.get_operation("demo", OP_ID)["status"] == "running"
    assert [r["method"] for r in scripted.seen] == ["GET"] * 3
    first, second, third = (r["at"] for r in scripted.seen)
    assert second - first >= 0.2 and third - second >= 0.4


def test_backoff_waits_are_jittered_within_an_exponentially_growing_range():
    client = HindsightClient("http://127.0.0.1:9", backoff=0.1)
    try:
        for attempt in range(4):
            waits = [client._delay(attempt, httpx.Response(503)) for _ in range(200)]
            ceiling = 0.1 * 2**attempt
            assert all(0 <= wait <= ceiling for wait in waits)
            assert max(waits) > ceiling / 2  # the range really grows with the attempt
            assert len(set(waits)) > 1  # jittered, not a fixed wait
    finally:
        client.close()


def test_retry_after_header_sets_the_wait(scripted):
    scripted.script = [(503, {"Retry-After": "1"}, {"detail": "busy"}), (200, {}, {"banks": []})]
    with HindsightClient(scripted.url, backoff=0.0) as client:
        assert client.list_banks() == []
    first, second = scripted.seen
    assert second["at"] - first["at"] >= 0.95


def test_retries_give_up_after_max_retries(scripted):
    scripted.script = [(503, {}, {"detail": "busy"})] * 3
    with HindsightClient(scripted.url, max_retries=2, backoff=0.01) as client, \
            pytest.raises(APIError) as caught:
        client.list_operations("demo")
    assert caught.value.status_code == 503
    assert len(scripted.seen) == 3


def test_non_idempotent_calls_are_not_retried(scripted):
    scripted.script = [(503, {}, {"detail": "busy"})] * 2
    with HindsightClient(scripted.url, backoff=0.01) as client, pytest.raises(APIError):
        client.retry_operation("demo", OP_ID)
    with HindsightClient(scripted.url, backoff=0.01) as client, pytest.raises(APIError):
        client.retain("demo", ["sync retain"])
    assert [r["path"] for r in scripted.seen] == [f"/api/banks/demo/operations/{OP_ID}/retry/",
                                                 "/api/banks/demo/memories/"]


def test_async_retain_is_retried_with_the_same_operation_id(scripted):
    scripted.script = [(503, {}, {"detail": "busy"}), (202, {}, operation("pending"))]
    with HindsightClient(scripted.url, backoff=0.01) as client:
        client.retain_batch_async("demo", ["a", "b"])
    bodies = [json.loads(r["body"]) for r in scripted.seen]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert bodies[0]["async"] is True
    assert bodies[0]["contents"] == [{"content": "a"}, {"content": "b"}]
    assert len(bodies[0]["operation_id"]) == 36


def test_api_key_is_sent_as_a_bearer_token(scripted, monkeypatch):
    monkeypatch.setenv("HINDSIGHT_API_KEY", "hs_secret")
    scripted.script = [(200, {}, {"banks": []})]
    with HindsightClient(scripted.url) as client:
        client.list_banks()
    assert scripted.seen[0]["headers"]["Authorization"] == "Bearer hs_secret"


def test_cli_turns_401_into_one_line_with_the_fix(scripted, cli):
    scripted.script = [(401, {}, {"detail": "Invalid API key."})]
    result = cli("--url", scripted.url, "--api-key", "wrong", "banks", "list")
    assert result.code == 3
    assert result.error_line == ("error: 401 unauthorized: Invalid API key. "
                                 "(pass --api-key or set HINDSIGHT_API_KEY)")
    assert scripted.seen[0]["headers"]["Authorization"] == "Bearer wrong"


def test_cli_names_nested_validation_errors(scripted, cli):
    scripted.script = [(400, {}, {"contents": {"0": {"timestamp": ["Must be ISO-8601."]}}})]
    result = cli("--url", scripted.url, "retain", "demo", "x")
    assert result.error_line == (
        "error: 400 invalid request: contents.0.timestamp: Must be ISO-8601."
    )


# --- against the live server ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("quiet_sweeper")
def test_wait_for_operation_returns_the_result_or_raises(demo_bank, live_server):
    client = HindsightClient(live_server.url)
    done = client.retain_batch_async("demo", ["one", "two", "three"])
    result = client.wait_for_operation("demo", done["operation_id"], poll_interval=0.1)
    assert len(result["memory_ids"]) == 3

    failing = running_operation(demo_bank, total=4)
    advance(failing, 2)
    assert transitions.fail(failing.pk, WORKER, "model crashed")
    with pytest.raises(OperationFailed, match="model crashed") as caught:
        client.wait_for_operation("demo", str(failing.pk))
    assert caught.value.operation["progress"] == 2

    stopped = running_operation(demo_bank, total=4)
    cancel_operation(demo_bank, str(stopped.pk))
    with pytest.raises(OperationCancelled):
        client.wait_for_operation("demo", str(stopped.pk))

    silent = running_operation(demo_bank, total=4)
    seen: list[dict] = []
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.wait_for_operation("demo", str(silent.pk), timeout=1.0, on_progress=seen.append)
    assert 0.9 < time.monotonic() - started < 5
    assert [op["status"] for op in seen] == ["running"]
    client.close()


@pytest.mark.django_db(transaction=True)
def test_repeated_async_retain_with_one_operation_id_starts_the_work_once(live_server):
    with HindsightClient(live_server.url) as client:
        first = client.retain_batch_async("demo", ["a"], operation_id=OP_ID)
        again = client.retain_batch_async("demo", ["a"], operation_id=OP_ID)
        assert first["operation_id"] == again["operation_id"] == OP_ID
        assert len(client.list_operations("demo")) == 1
        with pytest.raises(APIError) as caught:
            client.retain_batch_async("demo", ["b"], operation_id=OP_ID)
        assert caught.value.status_code == 409
