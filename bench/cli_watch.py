"""Watch benchmark: what ``hindsight operations watch`` costs the server and what it shows,
long-poll (the CLI's way) against a 100 ms polling loop, watching the same operation at once.

    .venv/bin/python bench/cli_watch.py [--items 10000] [--chunk 100] [--queued 3]

Starts a server like ``make run`` with one executor thread (``HINDSIGHT_WORKERS=1``) and
``HINDSIGHT_CHUNK_SIZE`` = ``--chunk`` (progress moves in many visible steps), submits ``--queued``
async batch_retains and follows the last one -- first waiting in the queue, then running -- with
both watchers in parallel threads. Prints for each: HTTP requests made, distinct progress values
seen, requests per value seen, and how late it saw ``completed`` after the other; then the ratio
of requests per visible change (polling / long-poll).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import make_items, start_server

from hindsight_cli.client import TERMINAL_STATUSES, HindsightClient


def long_poll(url: str, op_id: str, result: dict) -> None:
    requests: list[float] = []
    seen: set[int] = set()
    with HindsightClient(url) as client:
        client._http.event_hooks["request"].append(lambda request: requests.append(1))
        for op in client.follow_operation("bench", op_id):
            seen.add(op["progress"])
    result.update(requests=len(requests), seen=len(seen), done_at=time.monotonic())


def busy_poll(url: str, op_id: str, result: dict, interval: float = 0.1) -> None:
    requests, seen = 0, set()
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            op = client.get(f"/api/banks/bench/operations/{op_id}/").json()
            requests += 1
            seen.add(op["progress"])
            if op["status"] in TERMINAL_STATUSES:
                break
            time.sleep(interval)
    result.update(requests=requests, seen=len(seen), done_at=time.monotonic())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--queued", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(HINDSIGHT_CHUNK_SIZE=str(args.chunk), HINDSIGHT_WORKERS="1")
    with tempfile.TemporaryDirectory(prefix="hindsight-bench-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            with HindsightClient(url, timeout=120) as client:
                started = time.monotonic()
                for _ in range(args.queued):
                    op_id = client.retain_batch_async("bench", make_items(args.items, 256))[
                        "operation_id"]
            results: dict[str, dict] = {"long-poll": {}, "poll 100 ms": {}}
            threads = [
                threading.Thread(target=long_poll, args=(url, op_id, results["long-poll"])),
                threading.Thread(target=busy_poll, args=(url, op_id, results["poll 100 ms"])),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    first_done = min(r["done_at"] for r in results.values())
    print(f"watched the last of {args.queued} operations of {args.items} items, chunks of "
          f"{args.chunk}, 1 worker: submit -> completed "
          f"{max(r['done_at'] for r in results.values()) - started:.2f} s")
    for name, r in results.items():
        print(f"{name:12} requests={r['requests']:4}  progress values seen={r['seen']:4}  "
              f"requests/value={r['requests'] / r['seen']:.2f}  "
              f"saw completed +{(r['done_at'] - first_done) * 1000:.0f} ms")
    lp, bp = results["long-poll"], results["poll 100 ms"]
    ratio = (bp["requests"] / bp["seen"]) / (lp["requests"] / lp["seen"])
    print(f"ratio requests per visible change, polling / long-poll: {ratio:.2f}")


if __name__ == "__main__":
    main()
