"""Ctrl-C at many points of the CLI's request path (issue 18).

``python -m tests.cli.interrupt_points URL BANK OPERATION [options]`` imports the CLI once and
forks one child per chosen point. Each child runs ``hindsight operations watch BANK OPERATION``
under a line tracer (the HTTP stack and the CLI, from the moment the command's handler starts)
and raises SIGINT from the tracer at the point's line event, which is what a user's Ctrl-C does
at random: it can land between httpcore's ``lock.acquire()`` and the ``try`` that releases it.
The parent waits for each child up to a generous deadline, kills it if it is still there (a
hang) and prints one JSON list: point, source line, exit code (None = hung), seconds, stderr.

Which points: a first child records the sequence of line events (``--events`` of them: the
first request, the printed line, the long-poll request and its blocking read, and the next
poll); then every event inside httpcore's locking code and its neighbours, plus every
``--stride``-th event elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import h11
import httpcore
import httpx

import hindsight_cli
from hindsight_cli import client as client_module
from hindsight_cli import main as cli_main
from hindsight_cli import render

TRACED = tuple(str(Path(m.__file__).parent) + os.sep for m in (httpx, httpcore, h11, hindsight_cli))
HANDLERS = str(Path(hindsight_cli.__file__).parent / "commands.py")
LOCK_CODE = ("httpcore/_synchronization.py", "httpcore/_sync/connection_pool.py")


def arm(point: int, record: bool, marker: Path) -> None:
    """Raise SIGINT at line event ``point``; with ``record``, write every location up to it."""
    seen = 0
    locations: list[str] = []
    handler_started = False

    def local(frame, event, arg):
        nonlocal seen
        if event != "line":
            return local
        seen += 1
        location = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        if record:
            locations.append(location)
        if seen == point:
            sys.settrace(None)
            threading.settrace(None)
            frame.f_trace = None
            marker.write_text("\n".join(locations) if record else location)
            signal.raise_signal(signal.SIGINT)
            return None
        return local

    def tracer(frame, event, arg):
        nonlocal handler_started
        handler_started = handler_started or frame.f_code.co_filename == HANDLERS
        if handler_started and frame.f_code.co_filename.startswith(TRACED):
            return local
        return None

    # The CLI sends requests from a worker thread (``InterruptibleTransport``): trace it too. A
    # signal raised there is handled by the main thread, as a user's Ctrl-C would be.
    threading.settrace(tracer)
    sys.settrace(tracer)


def child(argv: list[str], point: int, options: argparse.Namespace, tmp: Path) -> None:
    """Runs in the forked child and never returns: the CLI's ``SystemExit`` ends the process
    through the interpreter's normal shutdown, as it does for a user."""
    for fd, name in ((1, "out"), (2, "err")):
        target = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    # The server answers a long-poll after ``wait`` seconds: points past the first long-poll's
    # blocking read are reached on the next poll instead of 30 s later.
    client_module.LONG_POLL_SECONDS = options.wait
    if options.stuck:
        # Simulate a hang of the normal interrupt path (a lock we do not know about).
        lock = threading.Lock()
        lock.acquire()
        render.Output.note = lambda self, text: lock.acquire()
    arm(point, options.record, tmp / "marker")
    if options.guard:
        cli_main.run(argv)
    sys.exit(cli_main.main(argv))


def wait_child(pid: int, deadline: float) -> tuple[int | None, float]:
    started = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - started
        if time.monotonic() - started > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.monotonic() - started
        time.sleep(0.005)


def interrupt_at(argv: list[str], point: int, options: argparse.Namespace, tmp: Path) -> dict:
    (tmp / "marker").write_text("")
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(argv, point, options, tmp)
    code, elapsed = wait_child(pid, options.deadline)
    return {"point": point, "location": (tmp / "marker").read_text(), "code": code,
            "seconds": round(elapsed, 3), "stderr": (tmp / "err").read_text()}


def choose_points(locations: list[str], stride: int) -> list[int]:
    near_locks = set()
    for index, location in enumerate(locations, start=1):
        if location.endswith(LOCK_CODE, 0, location.rindex(":")):
            near_locks.update((index - 1, index, index + 1))
    every = set(range(1, len(locations) + 1, stride))
    return sorted(p for p in near_locks | every if 1 <= p <= len(locations))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("bank")
    parser.add_argument("operation")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--stride", type=int, default=120)
    parser.add_argument("--points", type=int, nargs="*", help="these points only, no dry run")
    parser.add_argument("--wait", type=float, default=1.0)
    parser.add_argument("--deadline", type=float, default=20.0)
    parser.add_argument("--no-guard", dest="guard", action="store_false",
                        help="run main() without the interrupt watchdog of the executable")
    parser.add_argument("--stuck", action="store_true",
                        help="make the normal interrupt path hang (tests the watchdog)")
    options = parser.parse_args()
    argv = ["--url", options.url, "operations", "watch", options.bank, options.operation]
    parent = os.getpid()
    tmp = Path(tempfile.mkdtemp())
    try:
        points = options.points
        if not points:
            options.record = True
            dry = interrupt_at(argv, options.events, options, tmp)
            points = choose_points(dry["location"].splitlines(), options.stride)
        options.record = False
        results = [interrupt_at(argv, point, options, tmp) for point in points]
    finally:
        if os.getpid() == parent:  # a child's SystemExit unwinds through here too
            shutil.rmtree(tmp)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
