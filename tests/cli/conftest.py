"""The CLI runs as a real subprocess against pytest-django's live server; operations run on the
embedded executor's threads inside this test process. Helpers drive an operation by hand
(claim, commit progress, finish) when a test needs to control exactly what ``watch`` sees."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.signals import request_started
from django.db import transaction

from operations import reaper, transitions
from operations.executor import get_executor
from operations.models import Operation
from tests.factories import make_bank, submit_retain

REPO = Path(__file__).resolve().parents[2]
WORKER = "tests.cli:manual-worker"
# Variables that would change what the CLI prints or where it connects.
SCRUBBED_ENV = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "HINDSIGHT_API_KEY",
                "HINDSIGHT_MAX_BATCH_ITEMS", "COLUMNS")


def cli_env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(HINDSIGHT_API_URL=url, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hindsight_cli.main", *args]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    @property
    def error_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one stderr line, got: {self.stderr!r}"
        assert "Traceback" not in self.stderr
        return lines[0]


class Running:
    """A CLI process that is still running; its output is collected by reader threads."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(cli_command(*args), env=env, cwd=cwd, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _read(stream, buffer: list[str]) -> None:
        for line in stream:
            buffer.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """Until ``text`` is printed; fails at once if the process ends without printing it."""
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            if self.proc.poll() is not None:
                for thread in self._threads:  # the readers end at EOF: all output is in
                    thread.join(timeout=10)
                if text in self.stdout:
                    break
                raise AssertionError(f"{text!r} not printed before exit {self.proc.returncode}; "
                                     f"stdout={self.stdout!r} stderr={''.join(self.err)!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed within {timeout} s; "
                                     f"stdout={self.stdout!r} stderr={''.join(self.err)!r}")
            time.sleep(0.02)
        return self.stdout

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 30.0) -> Result:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        for thread in self._threads:
            thread.join(timeout=5)
        return Result(code, self.stdout, "".join(self.err))


@pytest.fixture
def cli(live_server, tmp_path):
    """``cli("operations", "list", "demo")`` -> Result (exit code, stdout, stderr)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            stdin: str | None = None, timeout: float = 120.0) -> Result:
        proc = subprocess.run(cli_command(*args), env=cli_env(live_server.url, env),
                              cwd=cwd or tmp_path, input=stdin, capture_output=True, text=True,
                              timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


class ServerRequests:
    """What the live server has received (Django's ``request_started``), so that a test can wait
    for "the long-poll is in" instead of sleeping and hoping."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        self.changed = threading.Condition()

    def record(self, sender, environ, **kwargs) -> None:
        with self.changed:
            self.seen.append((environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
                              environ.get("HTTP_IF_NONE_MATCH")))
            self.changed.notify_all()

    def long_polls(self) -> int:
        """Requests that carried an ETag: long-polls waiting for a change."""
        return sum(1 for _path, _query, etag in self.seen if etag)

    def wait_for_long_polls(self, count: int = 1, timeout: float = 60.0) -> None:
        with self.changed:
            arrived = self.changed.wait_for(lambda: self.long_polls() >= count, timeout)
        assert arrived, f"the server saw {self.long_polls()} long-poll(s); requests: {self.seen}"


@pytest.fixture
def server_requests(live_server):
    requests = ServerRequests()
    request_started.connect(requests.record)
    yield requests
    request_started.disconnect(requests.record)


@pytest.fixture
def cli_background(live_server, tmp_path):
    """Start a CLI command and keep talking to the server while it runs."""
    started: list[Running] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Running:
        running = Running(list(args), cli_env(live_server.url, env), tmp_path)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def _embedded_sweeper(django_db_setup, django_db_blocker):
    """Start the embedded sweeper once, before any test of this package creates rows, and wait
    until its first pass is over: that pass takes every pending row (grace 0), later passes only
    stale ones (``quiet_sweeper``). Stop it before pytest-django drops the test database."""
    executor = get_executor()
    if not getattr(executor, "_started", True):
        first_pass = threading.Event()
        sweep = reaper.sweep

        def sweep_and_tell(*args, **kwargs):
            try:
                return sweep(*args, **kwargs)
            finally:
                first_pass.set()

        reaper.sweep = sweep_and_tell
        try:
            with django_db_blocker.unblock():
                executor.start()
                assert first_pass.wait(timeout=120), "the sweeper's first pass never ran"
        finally:
            reaper.sweep = sweep
    yield
    stop = getattr(executor, "stop", None)
    if stop is not None:
        stop(wait=True)


@pytest.fixture
def quiet_sweeper(settings):
    """Pending and hand-driven running operations stay as the test left them: the sweeper
    would otherwise dispatch unclaimed pending rows and reap silent running ones."""
    settings.HINDSIGHT_DISPATCH_GRACE = 3600
    settings.HINDSIGHT_STALE_AFTER = 3600
    return settings


@pytest.fixture
def demo_bank(transactional_db):
    return make_bank("demo")


def running_operation(bank, total: int = 100) -> Operation:
    """A batch_retain claimed by a hand-driven worker: only this test moves it."""
    operation = submit_retain(bank, total)
    assert transitions.claim(operation.pk, WORKER)
    return operation


def advance(operation: Operation, units: int) -> None:
    with transaction.atomic():
        assert transitions.commit_progress(operation.pk, WORKER, units, 0, "retaining")


def status_of(operation: Operation) -> str:
    return Operation.objects.values_list("status", flat=True).get(pk=operation.pk)


def run_in_pty(url: str, args: list[str], cwd: Path,
               during: Callable[[Callable[[], str]], None] | None = None) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a real pseudo-terminal (what a user sees), calling
    ``during(screen)`` while it runs (``screen()``: everything written so far). Returns (exit
    code, everything written to the terminal)."""
    master, slave = pty.openpty()
    env = cli_env(url, {"COLUMNS": "160", "TERM": "xterm-256color"})
    proc = subprocess.Popen(cli_command(*args), env=env, cwd=cwd, stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    def screen() -> str:
        return b"".join(chunks).decode(errors="replace")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if during is not None:
            during(screen)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)
        os.close(master)
    return code, b"".join(chunks).decode(errors="replace")
