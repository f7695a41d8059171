"""Render time of the operations admin changelist on a table of 1,000,000 operations.

Seeds a scratch SQLite database (``data/bench_admin.sqlite3``, reused by later runs) with N
operations over 5 banks and 60 days, then renders the changelist of ``OperationAdmin`` and, as
the baseline in the same run, of a straightforward ``ModelAdmin`` with the same columns, filters
and date hierarchy (Django defaults: full COUNT(*), DISTINCT date truncation). Prints the median
render time per view, the query count and the ratio.

    .venv/bin/python bench/admin_changelist.py             # 1,000,000 rows
    .venv/bin/python bench/admin_changelist.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(db_path: Path) -> None:
    # A scratch database of its own: the benchmark never touches data/hindsight.sqlite3.
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hindsight_project.settings")
    import django

    django.setup()


def seed(rows: int, days: int = 60) -> None:
    """Insert rows straight into the table (bulk SQL; the ORM would take minutes at 1M)."""
    from django.db import connection, transaction

    from banks.models import Bank
    from operations.models import Operation

    existing = Operation.objects.count()
    if existing >= rows:
        print(f"reusing {existing:,} operations")
        return
    banks = [Bank.objects.get_or_create(bank_id=f"bench-{i}", defaults={"name": f"bench-{i}"})[0]
             for i in range(5)]
    rng = random.Random(42)
    statuses = ["completed"] * 7 + ["failed", "cancelled", "pending", "running"]
    now = datetime.now(UTC).replace(tzinfo=None)
    columns = ["id", "bank_id", "type", "status", "progress", "total", "failed_items_count",
               "stage", "created_at", "updated_at", "started_at", "completed_at", "worker_id",
               "heartbeat_at", "attempt", "lost_count", "error", "error_type", "summary",
               "request_hash"]
    sql = (f"INSERT INTO {Operation._meta.db_table} ({', '.join(columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    todo = rows - existing
    started = time.perf_counter()
    batch_size = 50_000
    for start in range(0, todo, batch_size):
        batch = []
        for i in range(start, min(todo, start + batch_size)):
            status = rng.choice(statuses)
            total = rng.randint(1, 5000)
            created = now - timedelta(seconds=days * 86400 * (todo - i) / todo)
            began = None if status == "pending" else created + timedelta(seconds=2)
            ended = created + timedelta(seconds=40) if status in ("completed", "failed",
                                                                  "cancelled") else None
            progress = total if status == "completed" else (
                0 if status == "pending" else rng.randint(0, total))
            batch.append((
                uuid.uuid4().hex, rng.choice(banks).pk, "batch_retain", status, progress, total,
                0, "", str(created), str(ended or began or created),
                str(began) if began else None, str(ended) if ended else None,
                "bench" if began else "", None, 1 if began else 0, 0,
                "boom" if status == "failed" else None, "", None, "",
            ))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
        done = existing + start + len(batch)
        print(f"  seeded {done:,} / {rows:,} ({time.perf_counter() - started:.0f} s)",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, default=ROOT / "data" / "bench_admin.sqlite3")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    setup_django(args.db)

    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.urls import resolve

    from operations.admin import OperationAdmin
    from operations.models import Operation

    call_command("migrate", verbosity=0)
    seed(args.rows)
    total = Operation.objects.count()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.com", "bench")

    class BaselineAdmin(admin.ModelAdmin):
        """What a first, straightforward admin for this model looks like."""

        list_display = ("id", "bank", "type", "status", "progress", "total", "created_at")
        list_filter = ("status", "type", "bank")
        date_hierarchy = "created_at"
        search_fields = ("id", "bank__bank_id")
        list_per_page = 100

    ours = admin.site._registry[Operation]
    assert isinstance(ours, OperationAdmin)
    baseline = BaselineAdmin(Operation, admin.site)
    newest = Operation.objects.order_by("-created_at", "-id").first()
    views = {
        "first page": {},
        "status=pending": {"status__exact": "pending"},
        "bank + status=running": {"bank__id__exact": str(newest.bank_id),
                                  "status__exact": "running"},
        "month drill-down": {"created_at__year": str(newest.created_at.year),
                             "created_at__month": str(newest.created_at.month)},
        "search short id": {"q": str(newest.pk)[:8]},
        "page 50": {"p": "50"},
    }
    rf = RequestFactory()

    def render(model_admin: admin.ModelAdmin, params: dict) -> tuple[float, int]:
        request = rf.get("/admin/operations/operation/", params)
        request.user = user
        request.resolver_match = resolve("/admin/operations/operation/")
        request.session = SessionStore()
        request._messages = FallbackStorage(request)
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = model_admin.changelist_view(request)
            response.render()
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, (params, response.status_code)
        return elapsed, len(queries.captured_queries)

    print(f"\noperations: {total:,}; SQLite {args.db}; median of {args.repeat} renders\n")
    print(f"{'view':<24}{'OperationAdmin':>16}{'queries':>9}{'baseline':>12}{'queries':>9}"
          f"{'speed-up':>10}")
    for name, params in views.items():
        render(ours, params)  # warm the page cache once for both
        ours_runs = [render(ours, params) for _ in range(args.repeat)]
        base_runs = [render(baseline, params) for _ in range(max(1, min(args.repeat, 3)))]
        ours_ms = statistics.median(t for t, _ in ours_runs) * 1000
        base_ms = statistics.median(t for t, _ in base_runs) * 1000
        print(f"{name:<24}{ours_ms:>13.0f} ms{ours_runs[0][1]:>9}{base_ms:>9.0f} ms"
              f"{base_runs[0][1]:>9}{base_ms / ours_ms:>9.1f}x", flush=True)


if __name__ == "__main__":
    main()
