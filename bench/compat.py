"""Cost of the Hindsight-compatible translation layer, measured with the official client against
a server started like ``make run``, next to the native API (the baseline) in the same run.

    .venv/bin/python bench/compat.py [--items 10000] [--size 1024] [--repeat 3]

Prints, for an async retain of N x ~1 KB items: the submit latency through the official client
(``retain_batch(..., retain_async=True)`` on ``/v1/default``), of the same compatible body POSTed
with httpx (server-side translation cost without the client's own pydantic work), and of the same
items POSTed to the native ``/api/.../memories/`` (the baseline), with ratios; submit ->
completed seen by polling ``get_operation_status`` on each; and one status poll on each surface.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from hindsight_client import Hindsight
from hindsight_client.hindsight_client import _run_async as run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import make_items, start_server  # a sibling script: bench/ is not a package


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def compat_submit(client: Hindsight, bank: str, items: list[dict]) -> tuple[float, str]:
    seconds, answer = timed(lambda: client.retain_batch(bank, items, retain_async=True))
    return seconds, answer.operation_id


def native_submit(http: httpx.Client, bank: str, items: list[dict]) -> tuple[float, str]:
    seconds, response = timed(lambda: http.post(
        f"/api/banks/{bank}/memories/", json={"contents": items, "async": True}))
    response.raise_for_status()
    return seconds, response.json()["operation_id"]


def compat_http_submit(http: httpx.Client, bank: str, items: list[dict]) -> tuple[float, str]:
    """The same compatible request without the client: what the translation layer costs."""
    seconds, response = timed(lambda: http.post(
        f"/v1/default/banks/{bank}/memories", json={"items": items, "async": True}))
    response.raise_for_status()
    return seconds, response.json()["operation_id"]


def wait_completed(client: Hindsight, bank: str, op_id: str) -> float:
    start = time.perf_counter()
    while run(client.operations.get_operation_status(bank, op_id)).status != "completed":
        time.sleep(0.05)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    items = make_items(args.items, args.size)

    with tempfile.TemporaryDirectory() as workdir:
        proc, url = start_server(Path(workdir))
        try:
            client = Hindsight(base_url=url, timeout=300)
            http = httpx.Client(base_url=url, timeout=300)
            compat_times, native_times, raw_times, completes, native_completes = [], [], [], [], []
            compat_ops, native_ops = [], []
            for round_ in range(args.repeat):
                seconds, op_id = compat_submit(client, f"compat-{round_}", items)
                compat_times.append(seconds)
                completes.append(wait_completed(client, f"compat-{round_}", op_id))
                compat_ops.append((f"compat-{round_}", op_id))
                seconds, op_id = native_submit(http, f"native-{round_}", items)
                native_times.append(seconds)
                native_completes.append(wait_completed(client, f"native-{round_}", op_id))
                native_ops.append((f"native-{round_}", op_id))
                seconds, op_id = compat_http_submit(http, f"raw-{round_}", items)
                raw_times.append(seconds)
                wait_completed(client, f"raw-{round_}", op_id)

            bank, op_id = compat_ops[0]
            compat_poll = statistics.median(
                timed(lambda: run(client.operations.get_operation_status(bank, op_id)))[0]
                for _ in range(50))
            bank, op_id = native_ops[0]
            native_poll = statistics.median(
                timed(lambda: http.get(f"/api/banks/{bank}/operations/{op_id}/"))[0]
                for _ in range(50))
            client.close()
            http.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    compat_submit_s = statistics.median(compat_times)
    native_submit_s = statistics.median(native_times)
    raw_submit_s = statistics.median(raw_times)
    complete_s = statistics.median(completes)
    native_complete_s = statistics.median(native_completes)
    print(f"items per retain:                {args.items} x ~{args.size} B, "
          f"median of {args.repeat}")
    print(f"submit, official client (compat): {compat_submit_s * 1000:.0f} ms")
    print(f"submit, native API (baseline):    {native_submit_s * 1000:.0f} ms")
    print(f"submit, compat body via httpx:    {raw_submit_s * 1000:.0f} ms")
    print(f"ratio compat / native submit:     {compat_submit_s / native_submit_s:.2f} "
          f"(client) / {raw_submit_s / native_submit_s:.2f} (server side only)")
    print(f"compat submit -> completed:       {complete_s:.2f} s "
          f"(native: {native_complete_s:.2f} s)")
    print(f"status poll, client (compat):     {compat_poll * 1000:.1f} ms")
    print(f"status poll, native (httpx):      {native_poll * 1000:.1f} ms")


if __name__ == "__main__":
    main()
