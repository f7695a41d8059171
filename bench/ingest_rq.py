"""Ingest on scale-out (RQ + PostgreSQL, 2 workers) vs the raw PostgreSQL floor, and vs the
common "one RQ job per item" pattern, all in the same run on the same cluster and workers.

    .venv/bin/python bench/ingest_rq.py [--items 10000] [--size 1024] [--per-item 10000]

Starts a throwaway PostgreSQL 15 cluster (durable settings: fsync on), a redis-server, the API on
gunicorn and 2 ``HindsightWorker`` RQ workers (``tests/scale/stack.py``), then measures:
1. one async batch_retain of N x ~1 KB items: POST -> ``completed`` (polling every 50 ms);
2. the same N items as two operations of N/2 (both workers busy);
3. the floor: the same ``Memory`` rows with ``bulk_create`` in batches of 1,000, one
   transaction each, from this process into a fresh database of the same cluster (best of 3);
4. the same items as one RQ job per item (``bench/per_item_jobs.py``) on the same 2 workers;
   ``--per-item`` below N measures that many and scales the time linearly (printed as such).
Bars: ours / floor throughput >= 0.5; ours >= 20x faster than one job per item.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scale.stack import Stack, wait_until  # noqa: E402
from tests.servers import PostgresCluster, RedisServer  # noqa: E402


def make_items(n: int, size: int, prefix: str = "Document") -> list[dict]:
    filler = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[: max(size - 40, 0)]
    return [{"content": f"{prefix} {i} about Alice and Bob. {filler}", "tags": ["bench"]}
            for i in range(n)]


PHASES: list[tuple] = []


def ingest(stack: Stack, bank_id: str, batches: list[list[dict]]) -> float:
    """POST every batch (async), then wait for all to complete; seconds from first POST."""
    started = time.monotonic()
    urls = []
    for batch in batches:
        response = stack.client.post(
            f"/api/banks/{bank_id}/memories/",
            content=json.dumps({"async": True, "contents": batch}),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()
        urls.append(response.headers["Location"])
    posted = time.monotonic() - started
    pending = set(urls)
    while pending:
        for url in list(pending):
            op = stack.client.get(url).json()
            if op["status"] == "completed":
                pending.discard(url)
                PHASES.append((posted, op["created_at"], op["started_at"], op["completed_at"]))
            elif op["status"] in ("failed", "cancelled"):
                raise SystemExit(f"operation ended {op['status']}: {op}")
        time.sleep(0.05)
    return time.monotonic() - started


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hindsight_project.settings")
    import django

    django.setup()


def measure_floor(contents: list[dict]) -> float:
    from django.core.management import call_command
    from django.db import transaction

    from banks.models import Bank, Memory

    call_command("migrate", verbosity=0)
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
    return best


def per_item_jobs(stack: Stack, bank_id: str, contents: list[dict]) -> float:
    """One RQ job per item on the stack's workers; seconds from first enqueue to last row."""
    import psycopg
    import redis
    from rq import Queue

    # The bank row, through the API like any client.
    stack.client.post("/api/banks/", json={"bank_id": bank_id}).raise_for_status()
    database_url = stack.env["DATABASE_URL"]
    with psycopg.connect(database_url) as conn:
        bank_pk = conn.execute("SELECT id FROM banks_bank WHERE bank_id = %s",
                               (bank_id,)).fetchone()[0]
    queue = Queue("default", connection=redis.Redis.from_url(stack.env["REDIS_URL"]))
    started = time.monotonic()
    jobs = [Queue.prepare_data("bench.per_item_jobs.store_item", (bank_pk, item, index),
                               result_ttl=60, timeout=600)
            for index, item in enumerate(contents)]
    for start in range(0, len(jobs), 1000):
        queue.enqueue_many(jobs[start : start + 1000])

    def stored() -> bool:
        with psycopg.connect(database_url) as conn:
            count = conn.execute("SELECT count(*) FROM banks_memory WHERE bank_id = %s",
                                 (bank_pk,)).fetchone()[0]
        return count >= len(contents)

    wait_until(stored, timeout=3600, step=0.25, what="per-item jobs done")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--per-item", type=int, default=10_000,
                        help="items to run as one RQ job each (time scaled to --items)")
    args = parser.parse_args()
    contents = make_items(args.items, args.size)

    cluster = PostgresCluster(durable=True)
    redis_server = RedisServer()
    cluster.start()
    redis_server.start()
    stack = Stack("rq", redis=redis_server, database_url=cluster.create_database("bench"),
                  fast_liveness=False, env={"LOG_LEVEL": "WARNING"})
    try:
        stack.start(workers=2)
        wait_until(lambda: stack.client.get("/health").json()["executor"]["workers"] == 2,
                   timeout=60, what="2 workers registered")
        ingest(stack, "warmup", [make_items(200, args.size, "Warmup")])
        one_op = ingest(stack, "bench-one", [contents])
        two_ops = ingest(stack, "bench-two", [contents[: args.items // 2],
                                              contents[args.items // 2 :]])
        per_item_n = min(args.per_item, args.items)
        per_item = per_item_jobs(stack, "bench-per-item", contents[:per_item_n])
        per_item_scaled = per_item * args.items / per_item_n
        setup_django(cluster.create_database("floor"))
        floor = measure_floor(contents)
    finally:
        stack.close()
        redis_server.close()
        cluster.close()

    n = args.items
    for posted, created, started, completed in PHASES:
        print(f"  phases: POST(s) {posted:.2f} s; created {created} started {started} "
              f"completed {completed}")
    rate = lambda seconds: f"{n / seconds:,.0f} items/s"  # noqa: E731
    print(f"items: {n} x ~{args.size} B on RQ + PostgreSQL 15 (fsync on), 2 workers")
    print(f"one operation of {n}:          {one_op:6.2f} s = {rate(one_op)}")
    print(f"two operations of {n // 2}:        {two_ops:6.2f} s = {rate(two_ops)}")
    print(f"bulk_create floor (best/3):    {floor:6.2f} s = {rate(floor)}")
    print(f"ratio to floor, one operation:  {floor / one_op:.2f}   (bar >= 0.5)")
    print(f"ratio to floor, two operations: {floor / two_ops:.2f}")
    scaled = "" if per_item_n == n else f" (measured {per_item_n} in {per_item:.1f} s, scaled)"
    print(f"one RQ job per item:           {per_item_scaled:6.1f} s = "
          f"{rate(per_item_scaled)}{scaled}")
    print(f"ours vs one job per item:      {per_item_scaled / one_op:.0f}x faster (one operation),"
          f" {per_item_scaled / two_ops:.0f}x (two)   (bar >= 20x)")


if __name__ == "__main__":
    main()
