"""Listing (docs/api.md 1.3): filters, limit/offset with total, keyset cursor, cross-bank list."""

from __future__ import annotations

import pytest

from operations import transitions
from operations.states import OperationStatus
from tests.factories import submit_retain

S = OperationStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(bank):
    """5 pending, 3 cancelled, 2 completed, created in that order."""
    ops = [submit_retain(bank) for _ in range(10)]
    for op in ops[5:8]:
        transitions.cancel(op.pk)
    for op in ops[8:]:
        transitions.claim(op.pk, "w")
        transitions.complete(op.pk, "w")
    return ops


def listing(api, query: str = "", bank: str = "alpha"):
    response = api.get(f"/api/banks/{bank}/operations/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_list_is_newest_first_with_envelope(api, mixed):
    body = listing(api)
    assert body["bank_id"] == "alpha" and body["total"] == 10
    assert (body["limit"], body["offset"]) == (20, 0)
    ids = [op["operation_id"] for op in body["operations"]]
    assert ids == [str(op.pk) for op in reversed(mixed)]
    assert body["operations"][0]["result"] == {"memory_count": 0, "failed_items_count": 0}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?status=pending", 5), ("?status=pending,cancelled", 8),
     ("?status=pending&status=completed", 7), ("?type=batch_retain", 10),
     ("?status=running", 0)],
)
def test_status_and_type_filters_take_several_values(api, mixed, query, expected):
    body = listing(api, query)
    assert body["total"] == expected == len(body["operations"])


def test_created_after_and_before_filter_by_time(api, mixed):
    pivot = mixed[4].created_at.isoformat().replace("+00:00", "Z")
    after = listing(api, f"?created_after={pivot}")
    before = listing(api, f"?created_before={pivot}")
    assert after["total"] == 6 and before["total"] == 4


@pytest.mark.parametrize(
    "query",
    ["?status=bogus", "?type=nope", "?limit=0", "?limit=abc", "?offset=-1",
     "?offset=99999999999999999999999",
     "?created_after=yesterday", "?cursor=garbage", "?cursor=x&offset=2"],
)
def test_bad_list_parameters_are_400_with_the_field_named(api, bank, query):
    response = api.get(f"/api/banks/alpha/operations/{query}")
    assert response.status_code == 400
    assert response.json()


def test_limit_above_100_is_capped(api, bank):
    for _ in range(105):
        submit_retain(bank, 1)
    body = listing(api, "?limit=500")
    assert body["limit"] == 100 and len(body["operations"]) == 100 and body["total"] == 105


def test_offset_pages_cover_everything_once(api, mixed):
    seen = []
    for offset in (0, 4, 8):
        page = listing(api, f"?limit=4&offset={offset}")
        seen += [op["operation_id"] for op in page["operations"]]
    assert sorted(seen) == sorted(str(op.pk) for op in mixed)


def test_cursor_pages_cover_everything_once_with_null_total(api, mixed):
    body = listing(api, "?limit=3")
    seen = [op["operation_id"] for op in body["operations"]]
    for _page in range(len(mixed)):  # bounded: a cursor that never ends must fail, not hang
        if not body["next_cursor"]:
            break
        body = listing(api, f"?limit=3&cursor={body['next_cursor']}")
        assert body["total"] is None and body["offset"] is None
        seen += [op["operation_id"] for op in body["operations"]]
    assert not body["next_cursor"]
    assert seen == [str(op.pk) for op in reversed(mixed)]


def test_cursor_respects_filters(api, mixed):
    body = listing(api, "?status=pending&limit=2")
    seen = [op["operation_id"] for op in body["operations"]]
    for _page in range(len(mixed)):  # bounded: a cursor that never ends must fail, not hang
        if not body["next_cursor"]:
            break
        body = listing(api, f"?status=pending&limit=2&cursor={body['next_cursor']}")
        seen += [op["operation_id"] for op in body["operations"]]
    assert not body["next_cursor"]
    assert seen == [str(op.pk) for op in reversed(mixed[:5])]


def test_cursor_minted_for_one_bank_is_refused_on_another(api, mixed, other_bank):
    submit_retain(other_bank)
    cursor = listing(api, "?limit=2")["next_cursor"]
    response = api.get(f"/api/banks/beta/operations/?cursor={cursor}")
    assert response.status_code == 400


def test_cross_bank_list_spans_banks_and_filters_by_bank_id(api, mixed, other_bank):
    submit_retain(other_bank)
    body = api.get("/api/operations/").json()
    assert body["total"] == 11 and body["bank_id"] is None
    only_beta = api.get("/api/operations/?bank_id=beta").json()
    assert only_beta["total"] == 1 and only_beta["operations"][0]["bank_id"] == "beta"


def test_list_rows_never_carry_full_result_arrays(api, mixed):
    for row in listing(api, "?status=completed")["operations"]:
        assert set(row["result"]) == {"memory_count", "failed_items_count"}
