"""The operations admin: what the changelist shows, the bulk actions (confirmation page, service
call, per-outcome message) and the read-only change page with its Cancel/Retry buttons."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from operations import transitions
from operations.models import Operation
from operations.states import OperationStatus
from tests.admin.actions import CHANGELIST, messages_of, post_action
from tests.factories import make_bank, submit_retain
from tests.lifecycle import advance, backdate, record_failed_item, status_of, walk_to

S = OperationStatus
pytestmark = pytest.mark.django_db


def change_url(op) -> str:
    return f"/admin/operations/operation/{op.pk}/change/"


def shown_buttons(body: str) -> set[str]:
    """The change page's Cancel/Retry buttons not hidden (both exist for operators: the live
    script shows the one the operation's new state allows)."""
    return {act for hidden, act in re.findall(r'<li( hidden)? data-hs-show="(\w+)"', body)
            if not hidden}


# --- changelist -----------------------------------------------------------------------------------


def test_changelist_shows_short_id_badge_progress_bar_and_newest_first(admin_client, bank):
    older = walk_to(submit_retain(bank, 1000), S.RUNNING)
    advance(older, 450)
    newer = submit_retain(bank, 3)
    body = admin_client.get(CHANGELIST).content.decode()
    assert str(older.pk)[:8] in body and str(newer.pk)[:8] in body
    assert body.index(str(newer.pk)[:8]) < body.index(str(older.pk)[:8])
    assert '<span class="hs-badge hs-badge--running">Running</span>' in body
    assert "450 / 1,000 (45%)" in body
    assert 'class="hs-progress__bar" style="width: 45%"' in body
    assert "2 operations" in body


def test_changelist_filters_by_status_type_and_bank(admin_client, bank, other_bank):
    pending = submit_retain(bank)
    failed = walk_to(submit_retain(bank), S.FAILED)
    elsewhere = submit_retain(other_bank)
    body = admin_client.get(CHANGELIST, {"status__exact": "failed"}).content.decode()
    assert str(failed.pk)[:8] in body and str(pending.pk)[:8] not in body
    body = admin_client.get(CHANGELIST, {"bank__id__exact": other_bank.pk}).content.decode()
    assert str(elsewhere.pk)[:8] in body and str(pending.pk)[:8] not in body
    body = admin_client.get(CHANGELIST, {"type__exact": "graph_update"}).content.decode()
    assert "0 operations" in body


def test_changelist_search_finds_by_short_id_and_by_bank(admin_client, bank, other_bank):
    mine = submit_retain(bank)
    theirs = submit_retain(other_bank)
    body = admin_client.get(CHANGELIST, {"q": str(mine.pk)[:8]}).content.decode()
    assert str(mine.pk)[:8] in body and str(theirs.pk)[:8] not in body
    body = admin_client.get(CHANGELIST, {"q": "bet"}).content.decode()
    assert str(theirs.pk)[:8] in body and str(mine.pk)[:8] not in body


def test_changelist_never_loads_payloads_or_item_failures(admin_client, bank):
    for _ in range(3):
        submit_retain(bank, 50)
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(CHANGELIST).status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "operations_operation" in sql
    assert "operationpayload" not in sql and "operationitemfailure" not in sql
    assert "COUNT(*)" not in sql.replace("SELECT COUNT(*) FROM (SELECT", "")


def test_date_hierarchy_drills_into_the_days_that_have_operations(admin_client, bank):
    op = submit_retain(bank)
    backdate(op, timezone.now().replace(day=1, hour=12) - timedelta(days=40))
    submit_retain(bank)
    when = Operation.objects.get(pk=op.pk).created_at
    body = admin_client.get(CHANGELIST, {"created_at__year": when.year,
                                         "created_at__month": when.month}).content.decode()
    assert f"created_at__day={when.day}" in body
    assert str(op.pk)[:8] in body


def test_changelist_has_no_django_delete_selected_action(admin_client, bank):
    submit_retain(bank)
    actions = admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    names = [name for name, _ in actions]
    assert "delete_selected" not in names
    assert {"cancel_selected", "retry_selected", "delete_selected_terminal"} <= set(names)


def test_there_is_no_add_page(admin_client):
    assert admin_client.get("/admin/operations/operation/add/").status_code == 403


# --- bulk cancel ----------------------------------------------------------------------------------


def test_cancel_selected_asks_for_confirmation_first_and_changes_nothing(admin_client, bank):
    ops = [submit_retain(bank), walk_to(submit_retain(bank), S.RUNNING),
           walk_to(submit_retain(bank), S.COMPLETED)]
    response = post_action(admin_client, "cancel_selected", [op.pk for op in ops])
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cancel <strong>2 operations</strong>?" in body
    assert "1 completed (left alone)" in body
    assert [status_of(op) for op in ops] == [S.PENDING, S.RUNNING, S.COMPLETED]


def test_cancel_selected_cancels_active_ones_and_reports_counts(admin_client, bank):
    pending = [submit_retain(bank) for _ in range(2)]
    running = walk_to(submit_retain(bank), S.RUNNING)
    done = walk_to(submit_retain(bank), S.COMPLETED)
    failed = walk_to(submit_retain(bank), S.FAILED)
    ids = [op.pk for op in (*pending, running, done, failed)]
    response = post_action(admin_client, "cancel_selected", ids, confirm=True)
    assert messages_of(response) == ["Cancelled 3 operations; 2 were already finished."]
    assert [status_of(op) for op in (*pending, running)] == [S.CANCELLED] * 3
    assert (status_of(done), status_of(failed)) == (S.COMPLETED, S.FAILED)


def test_cancel_all_across_pages_respects_the_changelist_filter(admin_client, bank):
    pending = [submit_retain(bank) for _ in range(3)]
    running = walk_to(submit_retain(bank), S.RUNNING)
    response = post_action(admin_client, "cancel_selected", [pending[0].pk], confirm=True,
                           select_across=True, url=CHANGELIST + "?status__exact=pending")
    assert messages_of(response) == ["Cancelled 3 operations."]
    assert [status_of(op) for op in pending] == [S.CANCELLED] * 3
    assert status_of(running) == S.RUNNING


# --- bulk retry and delete ------------------------------------------------------------------------


def test_retry_selected_retries_failed_and_cancelled_and_counts_the_rest(admin_client, bank):
    failed = walk_to(submit_retain(bank), S.FAILED)
    cancelled = walk_to(submit_retain(bank), S.CANCELLED)
    running = walk_to(submit_retain(bank), S.RUNNING)
    confirm_page = post_action(admin_client, "retry_selected",
                               [failed.pk, cancelled.pk, running.pk])
    assert "Retry <strong>2 operations</strong>?" in confirm_page.content.decode()
    response = post_action(admin_client, "retry_selected", [failed.pk, cancelled.pk, running.pk],
                           confirm=True)
    assert messages_of(response) == [
        "Retried 2 operations; 1 was running (only failed or cancelled operations can be "
        "retried)."
    ]
    assert (status_of(failed), status_of(cancelled), status_of(running)) == (
        S.PENDING, S.PENDING, S.RUNNING)


def test_delete_selected_deletes_finished_and_skips_active(admin_client, bank):
    done = walk_to(submit_retain(bank), S.COMPLETED)
    cancelled = walk_to(submit_retain(bank), S.CANCELLED)
    pending = submit_retain(bank)
    running = walk_to(submit_retain(bank), S.RUNNING)
    ids = [done.pk, cancelled.pk, pending.pk, running.pk]
    body = post_action(admin_client, "delete_selected_terminal", ids).content.decode()
    assert "Delete <strong>2 operations</strong>?" in body
    response = post_action(admin_client, "delete_selected_terminal", ids, confirm=True)
    assert messages_of(response) == [
        "Deleted 2 finished operations; 2 were still pending or running and skipped."
    ]
    assert set(Operation.objects.values_list("pk", flat=True)) == {pending.pk, running.pk}


def test_action_with_nothing_to_do_warns(admin_client, bank):
    done = walk_to(submit_retain(bank), S.COMPLETED)
    response = post_action(admin_client, "cancel_selected", [done.pk], confirm=True)
    [message] = list(response.context["messages"])
    assert message.level_tag == "warning"
    assert str(message) == "Cancelled 0 operations; 1 was already finished."


# --- change (view) page ---------------------------------------------------------------------------


def test_change_page_is_read_only_with_timeline_error_and_failed_items(admin_client, bank):
    op = walk_to(submit_retain(bank, 5), S.RUNNING, worker_id="worker-7")
    record_failed_item(op, 3, "content must not be empty", worker_id="worker-7")
    assert transitions.fail(op.pk, "worker-7", "disk full", "OSError")
    response = admin_client.get(change_url(op))
    body = response.content.decode()
    assert response.status_code == 200
    assert "View operation" in body
    assert 'name="status"' not in body and 'name="progress"' not in body
    assert 'name="_save"' not in body
    assert "attempt 1 on worker-7" in body
    assert "<code>OSError</code> disk full" in body
    assert "content must not be empty" in body
    assert shown_buttons(body) == {"retry"}


def test_posting_a_status_to_the_change_page_changes_nothing(admin_client, bank):
    op = submit_retain(bank)
    response = admin_client.post(change_url(op), {"status": "completed", "progress": 10})
    assert response.status_code == 403
    assert status_of(op) == S.PENDING


def test_cancel_button_cancels_through_the_service(admin_client, bank):
    op = walk_to(submit_retain(bank), S.RUNNING)
    body = admin_client.get(change_url(op)).content.decode()
    assert shown_buttons(body) == {"cancel"}
    response = admin_client.post(f"/admin/operations/operation/{op.pk}/cancel/", follow=True)
    assert messages_of(response) == [f"Cancelled operation {str(op.pk)[:8]}."]
    assert status_of(op) == S.CANCELLED


def test_retry_button_on_a_completed_operation_reports_its_status(admin_client, bank):
    op = walk_to(submit_retain(bank), S.COMPLETED)
    response = admin_client.post(f"/admin/operations/operation/{op.pk}/retry/", follow=True)
    assert messages_of(response) == [
        f"Operation {op.pk} cannot be retried: status is 'completed'"
    ]
    assert status_of(op) == S.COMPLETED


def test_cancel_url_refuses_get_and_unknown_ids(admin_client, bank):
    op = submit_retain(bank)
    assert admin_client.get(f"/admin/operations/operation/{op.pk}/cancel/").status_code == 405
    missing = "/admin/operations/operation/00000000-0000-0000-0000-000000000000/cancel/"
    assert admin_client.post(missing).status_code == 404
    assert status_of(op) == S.PENDING


# --- who may do what ------------------------------------------------------------------------------


def test_non_staff_users_are_sent_to_the_login_page(outsider_client, client):
    for c in (outsider_client, client):
        response = c.get(CHANGELIST)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_view_only_staff_sees_operations_but_cannot_act(viewer_client, bank):
    op = walk_to(submit_retain(bank), S.RUNNING)
    response = viewer_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert 'id="hs-cancel"' not in viewer_client.get(change_url(op)).content.decode()
    assert viewer_client.post(f"/admin/operations/operation/{op.pk}/cancel/").status_code == 403
    post_action(viewer_client, "cancel_selected", [op.pk], confirm=True)
    assert status_of(op) == S.RUNNING


# --- product chrome -------------------------------------------------------------------------------


def test_pages_carry_the_product_name_and_styles(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert "<title>Memory banks and their operations | Hindsight Operations admin</title>" in body
    assert '<a href="/admin/">Hindsight Operations</a>' in body
    assert ".hs-progress__bar" in body
    assert "hs-rq-dashboard" not in body


def test_rq_mode_links_to_the_django_rq_dashboard(admin_client, settings):
    settings.HINDSIGHT_EXECUTOR = "rq"
    settings.ROOT_URLCONF = "tests.admin.urls_with_rq"
    body = admin_client.get("/admin/").content.decode()
    assert '<a href="/django-rq/" id="hs-rq-dashboard">' in body


def test_admin_static_files_are_served(admin_client):
    response = admin_client.get("/static/admin/css/base.css")
    assert response.status_code == 200


def test_many_banks_do_not_break_the_changelist(admin_client):
    for i in range(30):
        submit_retain(make_bank(f"bank-{i:02d}"))
    assert admin_client.get(CHANGELIST).status_code == 200


def test_change_page_of_a_malformed_or_unknown_id_is_not_an_error(admin_client):
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = admin_client.get(f"/admin/operations/operation/{bad}/change/", follow=True)
        assert response.status_code == 200
        assert "exist. Perhaps it was deleted?" in messages_of(response)[0]


def test_embedded_mode_hides_the_django_rq_admin_entry(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert "/admin/django_rq/" not in body
