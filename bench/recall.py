"""Memory-engine benchmark (embedded default, SQLite): recall latency at 100,000 memories in one
bank, and graph_update / regenerate_observations throughput on the same bank.

    .venv/bin/python bench/recall.py [--memories 100000] [--queries 300] [--seed 7]

Builds the bank in a fresh SQLite file (same settings and schema as ``make run``) through the
real batch_retain job (entity extraction included), then prints:
- ingest units/s (the reference rate the job throughputs are compared with);
- recall p50/p99 over ``--queries`` 1-4 word queries (limit 10; a quarter with a tag filter),
  bar: p99 < 50 ms; and the same for the previous term-scan recall (``icontains`` + Python
  scoring) on a sample of the queries, with the speed-up ratio;
- graph_update and regenerate_observations units/s (one full run each, in this process).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "an", "bel", "cor", "dan",
             "el", "fen", "gor", "hal", "is", "jun", "kel", "mar", "nor", "ost", "pel"]


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def make_corpus(n: int, rng: random.Random) -> tuple[list[dict], list[str], list[str]]:
    vocabulary = sorted({word(rng) for _ in range(8000)})
    names = sorted({word(rng).capitalize() + " " + word(rng).capitalize() for _ in range(3000)})
    tags = [f"tag{i}" for i in range(20)]
    # Zipf-like word frequencies: a few very common words, a long tail of rare ones.
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    items = []
    for i in range(n):
        words = rng.choices(vocabulary, weights=weights, k=rng.randint(12, 30))
        people = rng.sample(names, rng.randint(1, 3))
        words[rng.randrange(len(words))] = " and ".join(people) + " met"
        items.append({"content": " ".join(words) + f" (note {i}).",
                      "tags": rng.sample(tags, rng.randint(0, 2))})
    return items, vocabulary, tags


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="reuse the bank built by an earlier run here")
    parser.add_argument("--skip-jobs", action="store_true", help="recall figures only")
    args = parser.parse_args()

    db = args.db or Path(tempfile.mkdtemp(prefix="hindsight-bench-recall-")) / "bench.sqlite3"
    reuse = db.exists()
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hindsight_project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from banks.models import Bank, Entity, MemoryLink
    from banks.recall import recall
    from bench.recall_baseline import term_scan_recall
    from operations.runner import run_operation
    from operations.states import OperationType
    from operations.submission import submit

    rng = random.Random(args.seed)
    items, vocabulary, tags = make_corpus(args.memories, rng)
    bank, created = Bank.objects.get_or_create(bank_id="bench", defaults={"name": "bench"})
    ingest_rate = None
    if created:
        started = time.perf_counter()
        for start in range(0, len(items), 10_000):
            op = submit(bank, OperationType.BATCH_RETAIN,
                        {"contents": items[start:start + 10_000]}, dispatch=False).operation
            run_operation(op.pk)
        ingest_rate = len(items) / (time.perf_counter() - started)
    print(f"corpus: {bank.memories.count()} memories, "
          f"{Entity.objects.filter(bank=bank).count()} entities ({db}; reused: {reuse})")
    if ingest_rate:
        print(f"ingest (batch_retain with entity extraction): {ingest_rate:,.0f} memories/s")

    common, rare = vocabulary[:200], vocabulary[200:]
    queries = []
    for _ in range(args.queries):
        picked = [rng.choice(common if rng.random() < 0.5 else rare)
                  for _ in range(rng.randint(1, 4))]
        queries.append((" ".join(picked), [rng.choice(tags)] if rng.random() < 0.25 else None))
    recall(bank, "warm up")
    timings, hits = [], 0
    for query, tag_filter in queries:
        t0 = time.perf_counter()
        hits += len(recall(bank, query, limit=10, tags=tag_filter))
        timings.append((time.perf_counter() - t0) * 1000)
    p50, p99 = percentile(timings, 50), percentile(timings, 99)
    print(f"recall (FTS5 bm25, limit 10, {len(queries)} queries, {hits} hits): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(timings):.1f} ms "
          f"-> bar p99 < 50 ms: {'PASS' if p99 < 50 else 'FAIL'}")

    sample = queries[: args.baseline_queries]
    base = []
    for query, tag_filter in sample:
        t0 = time.perf_counter()
        term_scan_recall(bank, query, limit=10, tags=tag_filter)
        base.append((time.perf_counter() - t0) * 1000)
    fts_sample = timings[: len(sample)]
    print(f"baseline term-scan recall ({len(sample)} of the same queries): "
          f"p50 {statistics.median(base):.1f} ms, p99 {percentile(base, 99):.1f} ms; "
          f"FTS5 speed-up at p50: {statistics.median(base) / statistics.median(fts_sample):.0f}x")

    if args.skip_jobs:
        return
    for op_type, label in ((OperationType.GRAPH_UPDATE, "memories"),
                           (OperationType.REGENERATE_OBSERVATIONS, "entities")):
        op = submit(bank, op_type, {}, dispatch=False).operation
        t0 = time.perf_counter()
        run_operation(op.pk)
        seconds = time.perf_counter() - t0
        op.refresh_from_db()
        rate = op.progress / seconds
        versus = f"; {rate / ingest_rate:.2f}x the ingest rate" if ingest_rate else ""
        print(f"{op_type}: {op.progress} {label} in {seconds:.1f} s = {rate:,.0f} units/s "
              f"({op.status}{versus})")
    print(f"links written: {MemoryLink.objects.filter(bank=bank).count()}")


if __name__ == "__main__":
    main()
