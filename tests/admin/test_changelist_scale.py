"""The operations changelist stays fast on a big table: its queries are the same in number
(and shape) on 400 rows and on 25,000, so they do not grow with the row count. The 1,000,000-row
render time is measured by ``bench/admin_changelist.py`` (docs/benchmarks.md, "Admin")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from operations.models import Operation
from tests.admin.actions import CHANGELIST
from tests.admin.seeding import seed_operations
from tests.factories import make_bank

pytestmark = pytest.mark.django_db
# Session, user, bank filter choices, capped count, page rows, the date hierarchy's first and
# last created_at (two index seeks, asked twice) and one probe per month shown (2 here): 11.
MAX_QUERIES = 12
# The date hierarchy asks the index once per day of the month shown: bounded by the calendar.
DAY_PROBES = 31


def changelist_queries(client, params: dict) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(CHANGELIST, params)
    assert response.status_code == 200, params
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.slow
def test_changelist_query_count_does_not_grow_with_the_table(admin_client):
    banks = [make_bank(f"bank-{i}") for i in range(5)]
    # A fixed date: 40 days before it span exactly two calendar months whatever today is (from
    # timezone.now() the span crossed three months on some days, one more date-hierarchy probe
    # for the big table than for the small one).
    end = datetime(2026, 3, 20, 12, tzinfo=UTC)
    seed_operations(banks, 400, end=end)
    some = Operation.objects.order_by("-created_at").first()
    this_month = {"created_at__year": end.year, "created_at__month": end.month}
    views = [
        {},
        {"status__exact": "pending"},
        {"bank__id__exact": banks[0].pk, "status__exact": "running"},
        this_month,
        {"q": str(some.pk)[:8]},
        {"q": "bank-3"},
        {"p": "3"},
    ]
    small = [changelist_queries(admin_client, params) for params in views]

    seed_operations(banks, 25_000, end=end, seed=8)
    assert Operation.objects.count() == 25_400
    large = [changelist_queries(admin_client, params) for params in views]

    for params, before, after in zip(views, small, large, strict=True):
        assert len(after) == len(before), params
        bound = MAX_QUERIES + (DAY_PROBES if params is this_month else 0)
        assert len(after) <= bound, (params, after)
        counts = [sql for sql in after if "COUNT(" in sql]
        # Only the capped count: never a COUNT(*) over the whole table.
        assert all("LIMIT" in sql for sql in counts), counts


@pytest.mark.slow
def test_changelist_footer_says_when_it_stopped_counting(admin_client):
    seed_operations([make_bank("big")], 10_050)
    body = admin_client.get(CHANGELIST).content.decode()
    assert "10000+ operations (narrow with filters to see older ones)" in body
