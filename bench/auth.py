"""Cost of API-key authentication per request (issue 9), in-process on a fresh SQLite file.

    .venv/bin/python bench/auth.py [--requests 2000]

Sends the same list request (``GET /api/banks/bench/operations/?limit=20``, 50 operations in the
bank) through Django's test client in three modes measured in the same run: open (no key exists:
the baseline), an all-banks key, and a bank-scoped key. Prints median and p99 per request and the
ratio to the baseline; then the time ``validate_contents`` takes for 10,000 items carrying
metadata and tags (the per-item limit and Unicode checks run there), with and without the
Unicode checks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'auth.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hindsight_project.settings")
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(client, path: str, n: int, headers: dict) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path, **headers)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return samples


def describe(name: str, samples: list[float], baseline: float | None) -> float:
    median = statistics.median(samples)
    p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
    ratio = f"  ratio to open {median / baseline:.2f}" if baseline else ""
    print(f"{name:<22} median {median * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms{ratio}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp))
        from django.test import Client

        from banks.apikeys import create_key
        from banks.items import validate_contents
        from banks.models import Bank
        from operations.states import OperationType
        from operations.submission import submit

        bank = Bank.objects.create(bank_id="bench", name="bench")
        for _ in range(50):
            submit(bank, OperationType.BATCH_RETAIN, {"contents": [{"content": "x"}]},
                   dispatch=False)
        client, path, n = Client(), "/api/banks/bench/operations/?limit=20", args.requests
        timed(client, path, 100, {})  # warm-up
        base = describe("open (baseline)", timed(client, path, n, {}), None)
        all_key = create_key("all").key
        scoped = create_key("scoped", ["bench"]).key
        for name, key in (("all-banks key", all_key), ("bank-scoped key", scoped)):
            headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
            timed(client, path, 100, headers)
            describe(name, timed(client, path, n, headers), base)

        items = [{"content": f"item {i} " + "text " * 40, "metadata": {"source": "bench",
                  "page": str(i)}, "tags": ["a", "b", "c"]} for i in range(10_000)]
        import banks.items

        def validation_ms() -> float:
            runs = []
            for _ in range(7):
                start = time.perf_counter()
                validate_contents(items)
                runs.append(time.perf_counter() - start)
            return statistics.median(runs) * 1000

        checked = validation_ms()
        banks.items._encodable = lambda text: True  # baseline: no Unicode checks
        unchecked = validation_ms()
        print(f"validate_contents, 10,000 items with metadata+tags: median {checked:.1f} ms "
              f"(without the Unicode checks {unchecked:.1f} ms, ratio {checked / unchecked:.2f})")


if __name__ == "__main__":
    main()
