"""Webhook delivery latency, and what subscriptions cost an ingest, on both ways to run.

    .venv/bin/python bench/webhooks.py [--stack embedded|rq|both] [--ops 1000] [--items 10000]
                                       [--window 8] [--rounds 3]

For each stack (``tests/scale/stack.py``: gunicorn + SQLite + the embedded executor, or gunicorn
+ PostgreSQL + Redis + 2 RQ workers), with ``HINDSIGHT_WEBHOOK_ALLOW_PRIVATE=true`` and a local
receiver (a real HTTP server in this process answering 204):
1. latency: ``--ops`` operations of one item each (at most ``--window`` submitted ahead of
   their events), one subscription to ``operation.completed``; for each event, receiver
   arrival (wall clock) minus the operation's ``completed_at`` (stamped by the terminal
   transition just before it commits; from the payload): p50 / p99 / max. Bar: p99 <= 1 s.
2. overhead: ingest of ``--items`` x ~200 B items as one async batch_retain, POST -> completed,
   into a bank with 3 subscriptions and into one with none, alternating in ABBA order,
   ``--rounds`` each; ratios of the median and of the best throughputs (with / without; on a
   machine shared with other work the best runs are the ones least disturbed). Bar: >= 0.95.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scale.stack import Stack, contents, wait_until  # noqa: E402
from tests.servers import PostgresCluster, RedisServer  # noqa: E402
from tests.webhooks.receiver import Receiver  # noqa: E402

ENV = {"HINDSIGHT_WEBHOOK_ALLOW_PRIVATE": "true"}


def start(kind: str, cluster: PostgresCluster | None) -> tuple[Stack, RedisServer | None]:
    redis = database_url = None
    if kind == "rq":
        redis = RedisServer()
        redis.start()
        database_url = cluster.create_database(f"bench_hooks_{uuid.uuid4().hex[:8]}")
    stack = Stack(kind, redis=redis, database_url=database_url, env=ENV, fast_liveness=False)
    stack.start(workers=2)
    return stack, redis


def subscribe(stack: Stack, bank_id: str, url: str, events: list[str] | None = None) -> None:
    response = stack.client.post(f"/api/banks/{bank_id}/webhooks/",
                                 json={"url": url, **({"events": events} if events else {})})
    response.raise_for_status()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(stack: Stack, ops: int, window: int) -> list[float]:
    bank_id = f"latency-{uuid.uuid4().hex[:6]}"
    stack.client.post("/api/banks/", json={"bank_id": bank_id}).raise_for_status()
    with Receiver([204]) as receiver:
        subscribe(stack, bank_id, receiver.url, ["operation.completed"])
        for i in range(ops):
            # At most ``window`` operations without their event yet: a steady stream of
            # finishing operations, not a storm of submissions queueing on the database.
            receiver.wait(lambda r, i=i: len(r) >= i - window, timeout=600)
            stack.retain_async(bank_id, [{"content": f"event {i}"}])
        got = receiver.wait(lambda r: len(r) >= ops, timeout=600)
    delays = []
    for request in got:
        completed = datetime.fromisoformat(request.json["data"]["completed_at"])
        delays.append(request.wall - completed.timestamp())
    return delays


def ingest_seconds(stack: Stack, bank_id: str, items: list[dict]) -> float:
    started = time.monotonic()
    op = stack.retain_async(bank_id, items)
    wait_until(lambda: stack.operation(bank_id, op["operation_id"])["status"] == "completed",
               timeout=900, step=0.05, what="ingest completed")
    return time.monotonic() - started


def overhead(stack: Stack, n: int, rounds: int = 3) -> tuple[list[float], list[float]]:
    items = contents(n, prefix="bench webhook overhead", size=150)
    plain, hooked = [], []
    with Receiver([204]) as receiver:
        for round_ in range(rounds):
            # ABBA order: drift of the machine over the run weighs on both sides alike.
            order = ((plain, 0), (hooked, 3)) if round_ % 2 == 0 else ((hooked, 3), (plain, 0))
            for runs, hooks in order:
                bank_id = f"ingest-{uuid.uuid4().hex[:6]}"
                stack.client.post("/api/banks/", json={"bank_id": bank_id}).raise_for_status()
                for _ in range(hooks):
                    subscribe(stack, bank_id, receiver.url)
                runs.append(n / ingest_seconds(stack, bank_id, items))
    return plain, hooked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=["embedded", "rq", "both"], default="both")
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="ingests per side in the overhead part (default 3)")
    parser.add_argument("--window", type=int, default=8,
                        help="operations submitted ahead of their events (default 8)")
    args = parser.parse_args()
    kinds = ["embedded", "rq"] if args.stack == "both" else [args.stack]
    cluster = None
    if "rq" in kinds:
        cluster = PostgresCluster(durable=True)
        cluster.start()
    try:
        for kind in kinds:
            stack, redis = start(kind, cluster)
            try:
                delays = latency(stack, args.ops, args.window)
                p99 = percentile(delays, 0.99)
                print(f"[{kind}] {args.ops} operations -> receiver, terminal transition to "
                      f"arrival: p50 {percentile(delays, 0.5) * 1000:.0f} ms, "
                      f"p99 {p99 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
                      f"(bar p99 <= 1000 ms: {'ok' if p99 <= 1 else 'MISSED'})", flush=True)
                plain, hooked = overhead(stack, args.items, args.rounds)
                ratio = statistics.median(hooked) / statistics.median(plain)
                best = max(hooked) / max(plain)
                print(f"[{kind}] ingest {args.items:,} items: no webhook "
                      f"{', '.join(f'{x:,.0f}' for x in plain)} items/s; 3 webhooks "
                      f"{', '.join(f'{x:,.0f}' for x in hooked)} items/s; ratio of medians "
                      f"{ratio:.3f}, of bests {best:.3f} (bar >= 0.95: "
                      f"{'ok' if max(ratio, best) >= 0.95 else 'MISSED'})", flush=True)
            finally:
                stack.close()
                if redis is not None:
                    redis.close()
    finally:
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
