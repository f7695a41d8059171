"""What a newcomer reads back from the API says it once and plainly: a cancelled operation's
stage, the valid statuses on a bad filter, what ``total`` means on a cursor page."""

from __future__ import annotations

import pytest

from operations.models import Operation
from tests.factories import submit_retain
from tests.lifecycle import advance, walk_to

pytestmark = pytest.mark.django_db


def test_a_cancelled_running_operation_no_longer_says_retaining(api, bank):
    op = advance(walk_to(submit_retain(bank, 10), "running"), 3)
    assert op.stage == "retaining"
    response = api.post(f"/api/banks/alpha/operations/{op.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["stage"] == "cancelled"
    assert Operation.objects.get(pk=op.pk).stage == "cancelled"


def test_bulk_cancel_sets_the_stage_too(api, bank):
    op = advance(walk_to(submit_retain(bank, 10), "running"), 3)
    response = api.post("/api/banks/alpha/operations/cancel/", {"status": ["running"]},
                        format="json")
    assert response.json()["cancelled"] == 1
    assert Operation.objects.get(pk=op.pk).stage == "cancelled"


def test_a_bad_status_filter_lists_the_valid_statuses(api, bank):
    response = api.get("/api/banks/alpha/operations/?status=done")
    assert response.status_code == 400
    message = str(response.json())
    assert "'done' is not a valid choice" in message
    assert "pending, running, completed, failed, cancelled" in message


def test_the_schema_says_total_is_null_on_cursor_pages(api, db):
    schema = api.get("/api/schema/?format=json").json()
    total = schema["components"]["schemas"]["OperationList"]["properties"]["total"]
    assert "cursor" in total["description"]
