"""Fairness across banks, fair vs FIFO in one run, on both ways to run.

    .venv/bin/python bench/fairness.py [--batches 20] [--items 10000] [--small 100]
                                       [--executors embedded,rq]

For each executor (embedded + SQLite with 2 executor threads; RQ + PostgreSQL with 2 forking
workers, ``tests/scale/stack.py``) and each scheduling mode (``HINDSIGHT_FAIR_SCHEDULING`` on,
then off = today's FIFO order), on a fresh deployment:
1. bank A submits ``--batches`` async batch_retains of ``--items`` items each;
2. right after, bank B submits one batch of ``--small`` items;
3. measured: B's submit -> ``completed`` (polling every 50 ms), how many of A's operations were
   still pending at that moment, and A's makespan (first submit -> all of A completed).
Bars: fair B latency <= 5 s while A still has pending operations; fair A makespan within 10 % of
FIFO's (a bank alone still uses every worker).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scale.stack import Stack  # noqa: E402
from tests.servers import PostgresCluster, RedisServer  # noqa: E402

POLL = 0.05


def items(n: int, prefix: str) -> list[dict]:
    return [{"content": f"{prefix} {i} about Alice and Bob in Paris."} for i in range(n)]


def submit(stack: Stack, bank_id: str, contents: list[dict]) -> str:
    response = stack.client.post(
        f"/api/banks/{bank_id}/memories/",
        content=json.dumps({"async": True, "contents": contents}),
        headers={"Content-Type": "application/json"},
    )
    response.raise_for_status()
    return response.json()["operation_id"]


def status(stack: Stack, bank_id: str, op_id: str) -> str:
    return stack.client.get(f"/api/banks/{bank_id}/operations/{op_id}/").json()["status"]


def pending_count(stack: Stack, bank_id: str) -> int:
    response = stack.client.get(f"/api/banks/{bank_id}/operations/",
                                params={"status": "pending", "limit": 1})
    return response.json()["total"]


def run_once(stack: Stack, batches: int, size: int, small: int) -> dict:
    body = items(size, "imported")  # one list, serialised per request
    started = time.monotonic()
    a_ops = [submit(stack, "importer", body) for _ in range(batches)]
    b_submitted = time.monotonic()
    b_op = submit(stack, "small", items(small, "note"))
    while status(stack, "small", b_op) != "completed":
        time.sleep(POLL)
    b_latency = time.monotonic() - b_submitted
    a_pending = pending_count(stack, "importer")
    remaining = set(a_ops)
    while remaining:
        for op_id in list(remaining):
            state = status(stack, "importer", op_id)
            if state in ("completed", "failed", "cancelled"):
                assert state == "completed", state
                remaining.discard(op_id)
        time.sleep(POLL * 4)
    return {"b_latency": b_latency, "a_pending_at_b": a_pending,
            "a_makespan": time.monotonic() - started}


def deployment(kind: str, fair: bool, cluster: PostgresCluster | None) -> tuple[Stack, object]:
    env = {"HINDSIGHT_FAIR_SCHEDULING": "1" if fair else "0", "HINDSIGHT_WORKERS": "2",
           "HINDSIGHT_MAX_BATCH_ITEMS": "100000"}
    redis = None
    database_url = None
    if kind == "rq":
        redis = RedisServer()
        redis.start()
        database_url = cluster.create_database(f"fair_{'on' if fair else 'off'}_{time.time_ns()}")
    stack = Stack(kind, redis=redis, database_url=database_url, env=env, fast_liveness=False)
    stack.start(workers=2)
    return stack, redis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--executors", default="embedded,rq")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.executors.split(",") if k.strip()]
    cluster = None
    if "rq" in kinds:
        cluster = PostgresCluster()
        cluster.start()
    try:
        print(f"bank A: {args.batches} x {args.items} items; bank B: 1 x {args.small} items; "
              "2 executor threads / 2 RQ workers")
        for kind in kinds:
            figures = {}
            for fair in (True, False):
                stack, redis = deployment(kind, fair, cluster)
                try:
                    figures[fair] = run_once(stack, args.batches, args.items, args.small)
                finally:
                    stack.close()
                    if redis is not None:
                        redis.close()
            on, off = figures[True], figures[False]
            print(f"\n{kind}:")
            print(f"  {'':28}{'fair':>12}{'FIFO':>12}")
            print(f"  {'B submit -> completed':28}{on['b_latency']:>11.2f}s"
                  f"{off['b_latency']:>11.2f}s   ratio FIFO/fair "
                  f"{off['b_latency'] / on['b_latency']:.1f}x")
            print(f"  {'A pending when B completed':28}{on['a_pending_at_b']:>12}"
                  f"{off['a_pending_at_b']:>12}")
            print(f"  {'A makespan':28}{on['a_makespan']:>11.2f}s{off['a_makespan']:>11.2f}s"
                  f"   fair/FIFO {on['a_makespan'] / off['a_makespan']:.2f}")
            ok = on["b_latency"] <= 5 and on["a_pending_at_b"] > 0
            print(f"  bar (fair: B <= 5 s while A pending): {'met' if ok else 'NOT met'}; "
                  f"bar (A makespan within 10 %): "
                  f"{'met' if on['a_makespan'] <= off['a_makespan'] * 1.10 else 'NOT met'}")
    finally:
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
