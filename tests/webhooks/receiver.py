"""A real HTTP receiver on a free loopback port, answering from a script: each request takes the
next answer (an int status, ``(status, headers)``, or ``"hang"`` to hold the connection until the
test ends); the last answer repeats. Every request is recorded with its headers and raw body."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)  # to compare with a server's timestamps

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signature_valid(self, secret: str) -> bool:
        """Both signatures the public server sends, checked the way its receivers do."""
        plain = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        parts = dict(p.split("=", 1) for p in self.headers["x-hindsight-signature-v2"].split(","))
        stamped = hmac.new(secret.encode(), f"{parts['t']}.".encode() + self.body,
                           hashlib.sha256).hexdigest()
        return (hmac.compare_digest(self.headers["x-hindsight-signature"], plain)
                and hmac.compare_digest(self.headers["x-hub-signature-256"], plain)
                and hmac.compare_digest(parts["v1"], stamped))


class Receiver:
    def __init__(self, script: list[Any] | None = None, delay: float = 0.0) -> None:
        self.script = list(script or [200])
        self.delay = delay  # every answer waits this long (widens race windows)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # lets hanging answers go at the end
        self.changed = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = Received(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    index = len(receiver.received)
                    answer = receiver.script[min(index, len(receiver.script) - 1)]
                    receiver.received.append(record)
                    receiver.changed.notify_all()
                if answer == "hang":
                    receiver.release.wait(120)
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                record.answered = status
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                reply = b'{"ok": true}' if status < 300 else b"receiver says no"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                with receiver.lock:
                    receiver.changed.notify_all()

            do_POST = do_GET = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait(self, predicate, timeout: float = 60.0) -> list[Received]:
        """Block until ``predicate(received)`` holds (woken on every request and answer)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: condition not met; got {len(self.received)}")
                self.changed.wait(min(left, 0.5))
            return list(self.received)
