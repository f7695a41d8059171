"""Cost of the operations dashboard's queries on a table of 1,000,000 operations.

Seeds (or reuses) the scratch SQLite database of ``bench/admin_changelist.py``
(``data/bench_admin.sqlite3``: N operations over 5 banks and 60 days), then times, for the last
hour, day and week before the newest operation:

- ``operations.dashboard.build`` (every chart's figures: 4 queries), median of ``--repeat``;
- the same ``build`` with the dashboard's two partial indexes dropped inside a transaction that
  is rolled back afterwards (baseline 1: what the migration buys);
- a straightforward implementation (baseline 2): ``TruncMinute``/``TruncHour`` grouping and the
  window's timestamps fetched as datetimes, percentiles and units computed in Python;
- the "now" lists (running, stale or retrying, pending count) and the whole admin page.

    .venv/bin/python bench/admin_dashboard.py              # 1,000,000 rows
    .venv/bin/python bench/admin_dashboard.py --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from admin_changelist import ROOT, seed, setup_django


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, int]:
    """Median milliseconds of ``repeat`` calls after one warm-up, and the queries of one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()
    runs = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1000, len(queries.captured_queries)


def naive_build(window, now) -> dict:
    """What a first dashboard would do: truncate every row's timestamp in the database (a
    Python function per row on SQLite) and compute durations from fetched datetimes."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour, TruncMinute

    from operations.models import Operation

    start = now - window.span
    trunc = TruncMinute if window.bucket.total_seconds() <= 60 else TruncHour
    ops = Operation.objects.order_by()
    started = list(ops.filter(started_at__gte=start, started_at__lt=now)
                   .annotate(bar=trunc("started_at")).values("bar", "type")
                   .annotate(n=Count("id")))
    finished = list(ops.filter(completed_at__gte=start, completed_at__lt=now)
                    .annotate(bar=trunc("completed_at")).values("bar", "type", "status")
                    .annotate(n=Count("id")))
    waits, runs, units = defaultdict(list), defaultdict(list), defaultdict(int)
    for kind, created, began in ops.filter(started_at__gte=start, started_at__lt=now) \
            .values_list("type", "created_at", "started_at"):
        waits[kind].append((began - created).total_seconds())
    for kind, began, ended, progress in ops.filter(
            completed_at__gte=start, completed_at__lt=now, started_at__isnull=False) \
            .values_list("type", "started_at", "completed_at", "progress"):
        runs[kind].append((ended - began).total_seconds())
        units[kind] += progress
    for values in (*waits.values(), *runs.values()):
        values.sort()
    return {"started": started, "finished": finished, "waits": waits, "runs": runs}


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
    from django.db import connection, transaction
    from django.test import RequestFactory
    from django.urls import resolve

    from operations import dashboard
    from operations.admin_dashboard import dashboard_view
    from operations.models import Operation

    call_command("migrate", verbosity=0)
    seed(args.rows)
    total = Operation.objects.count()
    now = Operation.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.com", "bench")
    model_admin = admin.site._registry[Operation]

    print(f"\noperations: {total:,}; SQLite {args.db}; windows end at the newest operation; "
          f"median of {args.repeat}\n")
    print(f"{'window':<8}{'rows in window':>16}{'build':>10}{'queries':>9}"
          f"{'no index':>11}{'ratio':>8}{'naive':>10}{'ratio':>8}")
    for name, window in dashboard.WINDOWS.items():
        in_window = Operation.objects.filter(
            completed_at__gte=now - window.span, completed_at__lt=now).count()
        ours_ms, queries = timed(lambda w=window: dashboard.build(w, now=now), args.repeat)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX op_started")
                cursor.execute("DROP INDEX op_completed")
            bare_ms, _ = timed(lambda w=window: dashboard.build(w, now=now),
                               max(1, min(args.repeat, 3)))
            transaction.set_rollback(True)  # the indexes come back
        naive_ms, _ = timed(lambda w=window: naive_build(w, now), max(1, min(args.repeat, 3)))
        print(f"{name:<8}{in_window:>16,}{ours_ms:>7.0f} ms{queries:>9}{bare_ms:>8.0f} ms"
              f"{bare_ms / ours_ms:>7.1f}x{naive_ms:>7.0f} ms{naive_ms / ours_ms:>7.1f}x",
              flush=True)

    lists_ms, lists_queries = timed(lambda: (dashboard.running(), dashboard.stale_or_retrying(),
                                             dashboard.pending_count()), args.repeat)
    print(f"\nnow lists (running, stale or retrying, pending): {lists_ms:.0f} ms, "
          f"{lists_queries} queries")

    rf = RequestFactory()

    def page(window: str) -> None:
        request = rf.get("/admin/operations/operation/dashboard/", {"window": window})
        request.user = user
        request.resolver_match = resolve("/admin/operations/operation/dashboard/")
        request.session = SessionStore()
        request._messages = FallbackStorage(request)
        response = dashboard_view(model_admin, request)
        response.render()
        assert response.status_code == 200

    for name in dashboard.WINDOWS:
        page_ms, page_queries = timed(lambda n=name: page(n), args.repeat)
        print(f"whole page, {name:<5}: {page_ms:.0f} ms, {page_queries} queries "
              "(its 'now' figures are taken at the real clock: empty windows on an old seed)")


if __name__ == "__main__":
    main()
