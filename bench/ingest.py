"""Ingest benchmark (embedded default): one async batch_retain of N x ~1 KB items against a
server started exactly like ``make run``, compared with the raw floor measured in the same run.

    .venv/bin/python bench/ingest.py [--items 10000] [--size 1024] [--corpus lorem|names]
                                     [--url http://...]

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


NAMES = {
    "first": "Alice Bob Carol Dmitri Elena Farid Grace Hiro Ines Jonas Kemal Lena Marco Nadia "
             "Omar Priya Quinn Rosa Sven Tomas Uma Viktor Wen Xavier Yusuf Zoe",
    "last": "Jones Smith Garcia Novak Tanaka Okafor Schmidt Rossi Dubois Kowalski Silva Chen "
            "Larsen Haddad Murphy",
    "places": "Paris|New York|Berlin|Lagos|Osaka|Lima|Oslo|Cairo|Seoul|Denver|Porto|Nairobi",
    "orgs": "Acme|Globex|Initech|Umbrella|Hooli|Stark Industries|Wayne Enterprises|Soylent",
}
FIRST, LAST = NAMES["first"].split(), NAMES["last"].split()
PLACES, ORGS = NAMES["places"].split("|"), NAMES["orgs"].split("|")
PROSE = ("The discussion covered pricing, delivery dates and the open questions about support, "
         "and everyone agreed to follow up by email before the end of next week.")


def make_named_items(n: int, size: int) -> list[dict]:
    """Text like chat logs and meeting notes: each item of ~``size`` bytes mentions about two
    dozen people, places, organisations, handles and hashtags between ordinary sentences; a batch
    holds thousands of distinct entities (every person is a first + last name pair)."""
    items = []
    for i in range(n):
        sentences = []
        k = i
        while sum(len(s) + 1 for s in sentences) < size:
            person = f"{FIRST[k % 26]} {LAST[(k // 26 + i) % 15]}"
            sentences.append(
                f"On Monday {person} met {FIRST[(k * 7 + 3) % 26]} in {PLACES[k % 12]} to review "
                f"the {ORGS[(k + i) % 8]} contract; @{FIRST[(k * 5) % 26].lower()}{k % 97} "
                f"tagged it #q{k % 4 + 1}-review. {PROSE}"
            )
            k += 11
        items.append({"content": " ".join(sentences)[:size], "tags": ["bench"]})
    return items


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'server.sqlite3'}",
           "LOG_LEVEL": "WARNING",
           # With DEBUG off the server refuses the built-in default key (issue 9).
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + "k" * 40}
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


def run_ingest(url: str, contents: list[dict], bank_id: str = "bench") -> dict:
    body = json.dumps({"async": True, "contents": contents})
    with httpx.Client(base_url=url, timeout=120) as client:
        started = time.monotonic()
        response = client.post(f"/api/banks/{bank_id}/memories/", content=body,
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


def measure_floor(workdir: Path, contents: list[dict], attempts: int = 3) -> dict:
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
    best = float("inf")
    for attempt in range(attempts):
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
    parser.add_argument("--runs", type=int, default=3,
                        help="ingests (each into a new bank) and floor attempts; best of each")
    parser.add_argument("--corpus", choices=("lorem", "names"), default="lorem",
                        help="lorem: filler text naming 3 entities per item (the default); "
                             "names: name-dense text, ~24 entities per item")
    args = parser.parse_args()
    build = make_named_items if args.corpus == "names" else make_items
    contents = build(args.items, args.size)
    with tempfile.TemporaryDirectory(prefix="hindsight-bench-") as tmp:
        workdir = Path(tmp)
        proc = None
        url = args.url
        if url is None:
            proc, url = start_server(workdir)
        try:
            ingests = [run_ingest(url, contents, f"bench-{run}") for run in range(args.runs)]
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        floor = measure_floor(workdir, contents, args.runs)
    # Best of N on both sides: on a shared machine a slow outlier on either side would move
    # the ratio; the worst progress gap of all runs is what counts for that bar.
    best = min(ingests, key=lambda ingest: ingest["elapsed"])
    rate = args.items / best["elapsed"]
    floor_rate = args.items / floor["floor_elapsed"]
    latencies = sorted(ingest["submit_latency"] for ingest in ingests)
    statuses = ", ".join(sorted({ingest["status"] for ingest in ingests}))
    runs = " / ".join(f"{ingest['elapsed']:.2f}" for ingest in ingests)
    print(f"items: {args.items} x ~{args.size} B ({args.corpus})   status: {statuses}")
    print(f"submit latency (POST of {args.items} items, median): "
          f"{latencies[len(latencies) // 2] * 1000:.0f} ms")
    print(f"request validation of {args.items} items:   {floor['validation'] * 1000:.0f} ms "
          f"(storing them at the floor: {floor['floor_elapsed'] * 1000:.0f} ms)")
    print(f"submit -> completed (best/{args.runs}): {best['elapsed']:.2f} s  = {rate:,.0f} items/s"
          f"   (runs: {runs} s)")
    print(f"bulk_create floor (best/{args.runs}):   {floor['floor_elapsed']:.2f} s  "
          f"= {floor_rate:,.0f} items/s")
    print(f"ratio to floor:            {rate / floor_rate:.2f}   (bar >= 0.5)")
    gap = max(ingest["longest_gap"] for ingest in ingests)
    print(f"longest progress gap (100 ms polling, all runs): {gap:.2f} s   (bar <= 1 s)")


if __name__ == "__main__":
    main()
