"""Failover time on scale-out with production defaults: SIGKILL the worker (and its work-horse)
that runs an operation, and time until the operation runs again.

    .venv/bin/python bench/failover.py [--runs 3]

Starts a throwaway PostgreSQL cluster, a redis-server, the API on gunicorn and 2 RQ workers
(``tests/scale/stack.py``) with every liveness setting at its default (STALE_AFTER 30 s, sweep
interval 5 s, heartbeat every 5 s). Each run submits a batch that takes ~60 s (fault-injection
module ``tests/scale/faulty_jobs.py``: 10 ms per item) and waits until it is well under way.

A. worker process killed (OOM killer, supervisor), another worker alive on that machine: kill
   the busy worker and its work-horse, start a replacement, poll the API every 50 ms until the
   operation is ``running`` again with a higher ``attempt`` (``--runs`` times).
B. whole machine lost: kill every worker and start none, so only the heartbeat reaper (in the
   API process) can notice; time until the operation is reaped back to ``pending`` (and
   re-dispatched), then start a worker and time until it runs again.

Printed beside RQ's own worst case for an abandoned job: a live worker's maintenance interval
plus the dead job's heartbeat TTL (RQ never re-runs it; it moves it to the failed registry, and
only if some worker is alive).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rq.defaults import (  # noqa: E402
    DEFAULT_JOB_MONITORING_INTERVAL,
    DEFAULT_MAINTENANCE_TASK_INTERVAL,
)

from tests.scale.stack import Stack, contents, wait_until  # noqa: E402
from tests.servers import PostgresCluster, RedisServer  # noqa: E402

DEFAULT_STALE_AFTER = 30.0


def one_failover(stack: Stack, run: int) -> float:
    bank_id = f"failover-{run}"
    op = stack.retain_async(bank_id, contents(6000, fault="slow:0.01"))
    op_id = op["operation_id"]
    # Well under way: several chunks committed, heartbeats flowing.
    running = stack.wait_progress(bank_id, op_id, at_least=300, timeout=120)
    busy = wait_until(stack.busy_workers, timeout=30, what="a busy worker")
    killed_at = time.monotonic()
    stack.kill_worker(busy[0])
    stack.start_worker()

    def running_again() -> bool:
        now = stack.operation(bank_id, op_id)
        return now["status"] == "running" and now["attempt"] > running["attempt"]

    wait_until(running_again, timeout=300, step=0.05, what="running again elsewhere")
    elapsed = time.monotonic() - killed_at
    stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/cancel/").raise_for_status()
    return elapsed


def machine_loss(stack: Stack) -> tuple[float, float]:
    bank_id = "failover-machine"
    op = stack.retain_async(bank_id, contents(6000, fault="slow:0.01"))
    op_id = op["operation_id"]
    stack.wait_progress(bank_id, op_id, at_least=300, timeout=120)
    killed_at = time.monotonic()
    for worker in list(stack.workers):
        stack.kill_worker(worker)
    wait_until(lambda: stack.operation(bank_id, op_id)["status"] == "pending", timeout=300,
               step=0.05, what="reaped")
    reaped = time.monotonic() - killed_at
    stack.start_worker()
    wait_until(lambda: stack.operation(bank_id, op_id)["status"] == "running", timeout=120,
               step=0.05, what="running again")
    running = time.monotonic() - killed_at
    stack.client.post(f"/api/banks/{bank_id}/operations/{op_id}/cancel/").raise_for_status()
    return reaped, running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cluster = PostgresCluster()
    redis_server = RedisServer()
    cluster.start()
    redis_server.start()
    stack = Stack("rq", redis=redis_server, database_url=cluster.create_database("failover"),
                  fast_liveness=False,
                  env={"HINDSIGHT_JOB_MODULES": "tests.scale.faulty_jobs", "LOG_LEVEL": "WARNING",
                       "HINDSIGHT_CHUNK_SIZE": "20"})
    try:
        stack.start(workers=2)
        times = [one_failover(stack, run) for run in range(args.runs)]
        reaped, running = machine_loss(stack)
    finally:
        stack.close()
        redis_server.close()
        cluster.close()

    rq_worst = DEFAULT_MAINTENANCE_TASK_INTERVAL + DEFAULT_JOB_MONITORING_INTERVAL + 60
    print(f"defaults: STALE_AFTER {DEFAULT_STALE_AFTER:.0f} s, sweep interval 5 s, "
          f"heartbeat every 5 s; 2 workers + 1 API process sweeping")
    print("A. worker process SIGKILLed, another worker alive on the machine:")
    for run, seconds in enumerate(times, 1):
        print(f"   run {run}: SIGKILL -> running again on another worker in {seconds:5.2f} s")
    print(f"   worst of {len(times)}: {max(times):.2f} s   (bar <= 30 s)")
    print("B. machine lost (every worker SIGKILLed, none on that machine survives):")
    print(f"   SIGKILL -> reaped by the heartbeat reaper and re-dispatched: {reaped:5.2f} s "
          f"(STALE_AFTER {DEFAULT_STALE_AFTER:.0f} s + sweep latency)")
    print(f"   SIGKILL -> running again (a worker started only after the reap): {running:5.2f} s")
    print(f"RQ's own worst case for an abandoned job: maintenance interval "
          f"{DEFAULT_MAINTENANCE_TASK_INTERVAL} s + heartbeat TTL "
          f"{DEFAULT_JOB_MONITORING_INTERVAL + 60} s = {rq_worst} s, and then only marked failed"
          f" (needs a live worker; never re-run)")
    print(f"ratio RQ worst case / ours: A {rq_worst / max(times):.0f}x, B {rq_worst / reaped:.0f}x")


if __name__ == "__main__":
    main()
