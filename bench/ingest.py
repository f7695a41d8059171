"""Ingest benchmark (embedded default): one async batch_retain of N x ~1 KB items against a
server started exactly like ``make run``, compared with the raw floor measured in the same run.

    .venv/bin/python bench/ingest.py [--items 10000] [--size 1024] [--url http://...]

Prints: submit latency of the POST, request validation time vs storing time, submit->completed
throughput, the ``bulk_create`` floor into a fresh database with the same settings and schema,
their ratio (bar >= 0.5), and the longest gap between visible progress changes for a client
polling every 100 ms (bar <= 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_items(n: int, size: int) -> list[dict]:
    filler = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[: max(size - 40, 0)]
    return [{"content": f"Document {i} about Alice and Bob. {filler}", "tags": ["bench"]}
            for i in range(n)]


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'server.sqlite3'}",
           "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True)
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "hindsight_project.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread", "--threads", "16",
         "--timeout", "120"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def run_ingest(url: str, contents: list[dict]) -> dict:
    body = json.dumps({"async": True, "contents": contents})
    with httpx.Client(base_url=url, timeout=120) as client:
        started = time.monotonic()
        response = client.post("/api/banks/bench/memories/", content=body,
                               headers={"Content-Type": "application/json"})
        submitted = time.monotonic()
        response.raise_for_status()
        op_url = response.headers["Location"]
        last_progress, last_change, longest_gap = -1, submitted, 0.0
        while True:
            op = client.get(op_url).json()
            now = time.monotonic()
            if op["progress"] != last_progress:
                longest_gap = max(longest_gap, now - last_change)
                last_progress, last_change = op["progress"], now
            if op["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.1)
    return {"status": op["status"], "submit_latency": submitted - started,
            "elapsed": now - started, "longest_gap": longest_gap, "total": op["total"]}


def measure_floor(workdir: Path, contents: list[dict]) -> dict:
    """Validation cost and the raw bulk_create floor, in this process, on a fresh database."""
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'floor.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hindsight_project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from banks.items import validate_contents
    from banks.models import Bank, Memory

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    validate_contents(contents)
    validation = time.monotonic() - started
    # Best of three: on a shared machine a slow outlier would flatter the ratio.
    best = float("inf")
    for attempt in range(3):
        bank = Bank.objects.create(bank_id=f"floor-{attempt}", name="floor")
        started = time.monotonic()
        for start in range(0, len(contents), 1000):
            with transaction.atomic():
                Memory.objects.bulk_create(
                    [Memory(bank=bank, content=item["content"], tags=item["tags"], item_index=i)
                     for i, item in enumerate(contents[start : start + 1000], start)],
                    batch_size=500,
                )
        best = min(best, time.monotonic() - started)
    return {"validation": validation, "floor_elapsed": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--url", help="use a running server instead of starting one")
    args = parser.parse_args()
    contents = make_items(args.items, args.size)
    with tempfile.TemporaryDirectory(prefix="hindsight-bench-") as tmp:
        workdir = Path(tmp)
        proc = None
        url = args.url
        if url is None:
            proc, url = start_server(workdir)
        try:
            ingest = run_ingest(url, contents)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        floor = measure_floor(workdir, contents)
    rate = args.items / ingest["elapsed"]
    floor_rate = args.items / floor["floor_elapsed"]
    print(f"items: {args.items} x ~{args.size} B   status: {ingest['status']}")
    print(f"submit latency (POST of {args.items} items): {ingest['submit_latency'] * 1000:.0f} ms")
    print(f"request validation of {args.items} items:   {floor['validation'] * 1000:.0f} ms "
          f"(storing them at the floor: {floor['floor_elapsed'] * 1000:.0f} ms)")
    print(f"submit -> completed:       {ingest['elapsed']:.2f} s  = {rate:,.0f} items/s")
    print(f"bulk_create floor (best/3): {floor['floor_elapsed']:.2f} s  "
          f"= {floor_rate:,.0f} items/s")
    print(f"ratio to floor:            {rate / floor_rate:.2f}   (bar >= 0.5)")
    print(f"longest progress gap (100 ms polling): {ingest['longest_gap']:.2f} s   (bar <= 1 s)")


if __name__ == "__main__":
    main()
