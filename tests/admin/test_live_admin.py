"""The live admin's long-poll and in-page actions, and who may see what: the JSON endpoint
answers 304 until a watched operation changes and then at once with every cell; Cancel/Retry
posted by the page's script answer with the row; view-only staff get no buttons; staff without
the operations permission, and non-staff, get nothing about any bank."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from operations import live, transitions
from operations.states import OperationStatus
from tests.admin.actions import CHANGELIST
from tests.factories import submit_retain
from tests.lifecycle import advance, status_of, walk_to

S = OperationStatus
LIVE = f"{CHANGELIST}live/"
DASHBOARD = f"{CHANGELIST}dashboard/"
pytestmark = pytest.mark.django_db


def ids_param(*ops) -> str:
    return ",".join(op.pk.hex for op in ops)


def poll(client: Client, ops, version: str | None = None, wait: float = 0, view: str = "list"):
    headers = {"If-None-Match": version} if version else {}
    return client.get(LIVE, {"ids": ids_param(*ops), "wait": wait, "view": view}, headers=headers)


def test_first_poll_answers_at_once_with_every_cell_and_the_version(admin_client, bank):
    op = advance(walk_to(submit_retain(bank, 1000), S.RUNNING), 250)
    response = poll(admin_client, [op], wait=30)
    assert response.status_code == 200
    data = response.json()
    assert data["active"] is True
    assert response["ETag"] == data["version"] == live.version_of([op.pk])
    row = data["operations"][str(op.pk)]
    assert row["status"] == "running" and row["can_cancel"] and not row["can_retry"]
    assert "250 / 1,000 (25%)" in row["cells"]["progress"]
    assert "hs-badge--running" in row["cells"]["status"]
    assert 'data-hs-act="cancel"' in row["cells"]["actions"]


def test_unchanged_operations_answer_304_after_the_wait(admin_client, bank):
    op = walk_to(submit_retain(bank), S.COMPLETED)
    version = poll(admin_client, [op]).json()["version"]
    started = time.monotonic()
    response = poll(admin_client, [op], version, wait=0.5)
    assert response.status_code == 304 and response["ETag"] == version
    assert time.monotonic() - started >= 0.5


@pytest.mark.django_db(transaction=True)
def test_a_change_answers_the_long_poll_at_once(admin_client, bank):
    op = walk_to(submit_retain(bank, 100), S.RUNNING)
    idle = walk_to(submit_retain(bank), S.COMPLETED)
    version = poll(admin_client, [op, idle]).json()["version"]
    changer = threading.Timer(0.5, lambda: advance(op, 40))
    changer.start()
    started = time.monotonic()
    response = poll(admin_client, [op, idle], version, wait=30)
    changer.join()
    assert response.status_code == 200
    assert time.monotonic() - started < 15  # not the 30 s of the wait
    data = response.json()
    assert data["version"] != version
    assert "40 / 100 (40%)" in data["operations"][str(op.pk)]["cells"]["progress"]


def test_a_page_rendered_at_a_version_is_not_told_it_again(admin_client, bank):
    """The changelist embeds the version of the rows it rendered: the script's first request is
    already a long-poll (no immediate re-fetch of what the page shows)."""
    op = walk_to(submit_retain(bank), S.FAILED)
    response = admin_client.get(CHANGELIST)
    config = json.loads(response.context["hs_live"])
    assert config["version"] == live.version_of([op.pk]) and config["active"] is False
    body = response.content.decode()
    assert f'data-hs-op="{op.pk}" data-hs-field="progress"' in body
    assert poll(admin_client, [op], live.version_of([op.pk]), wait=0.2).status_code == 304


def test_junk_and_unknown_ids_are_ignored(admin_client, bank):
    op = submit_retain(bank)
    response = admin_client.get(LIVE, {"ids": f"nonsense,{op.pk.hex},{'0' * 32}"})
    assert response.status_code == 200
    assert list(response.json()["operations"]) == [str(op.pk)]


def test_detail_view_sends_the_change_page_cells(admin_client, bank):
    op = walk_to(submit_retain(bank, 5), S.RUNNING, worker_id="worker-9")
    transitions.fail(op.pk, "worker-9", "disk full", "OSError")
    cells = poll(admin_client, [op], view="detail").json()["operations"][str(op.pk)]["cells"]
    assert "<code>OSError</code> disk full" in cells["error"]
    assert "attempt 1 on worker-9" in cells["timeline"]
    assert cells["worker_id"] == "worker-9" and cells["attempt"] == "1"
    assert "memories from this operation" in cells["result"]


def test_cancel_posted_by_the_page_answers_with_the_row(admin_client, bank):
    op = walk_to(submit_retain(bank), S.RUNNING)
    response = admin_client.post(f"{CHANGELIST}{op.pk}/cancel/",
                                 headers={"Accept": "application/json"})
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] and data["message"] == f"Cancelled operation {str(op.pk)[:8]}."
    assert data["operation"]["status"] == "cancelled" and data["operation"]["can_retry"]
    assert "hs-badge--cancelled" in data["operation"]["cells"]["status"]
    assert 'data-hs-act="retry"' in data["operation"]["cells"]["actions"]
    assert status_of(op) == S.CANCELLED


def test_retry_of_a_completed_operation_posted_by_the_page_is_a_409_with_the_reason(
    admin_client, bank
):
    op = walk_to(submit_retain(bank), S.COMPLETED)
    response = admin_client.post(f"{CHANGELIST}{op.pk}/retry/",
                                 headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Operation {op.pk} cannot be retried: status is 'completed'")
    assert status_of(op) == S.COMPLETED


def test_stale_running_operation_says_so_under_its_badge(admin_client, bank, settings):
    settings.HINDSIGHT_STALE_AFTER = 0.1
    op = walk_to(submit_retain(bank, 10), S.RUNNING)
    time.sleep(0.2)
    cells = poll(admin_client, [op]).json()["operations"][str(op.pk)]["cells"]
    assert "stale: heartbeat" in cells["status"]


# --- who sees what ----------------------------------------------------------------------------


@pytest.fixture
def staff_without_operations(db) -> Client:
    """Staff who may manage users, say, but not see operations."""
    user = User.objects.create_user("other-staff", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_user"))
    client = Client()
    client.force_login(user)
    return client


def test_view_only_staff_watch_live_without_buttons(viewer_client, bank):
    op = walk_to(submit_retain(bank), S.RUNNING)
    data = poll(viewer_client, [op]).json()["operations"][str(op.pk)]
    assert data["cells"]["actions"] == "" and not data["can_cancel"]
    body = viewer_client.get(CHANGELIST).content.decode()
    assert "data-hs-act" not in body and ">Act<" not in body
    dashboard = viewer_client.get(DASHBOARD)
    assert dashboard.status_code == 200
    assert "data-hs-act" not in dashboard.content.decode()
    assert str(op.pk)[:8] in dashboard.content.decode()  # they see it running
    assert viewer_client.post(f"{CHANGELIST}{op.pk}/cancel/",
                              headers={"Accept": "application/json"}).status_code == 403
    assert status_of(op) == S.RUNNING


def test_staff_without_the_permission_get_no_bank_data(staff_without_operations, bank):
    op = walk_to(submit_retain(bank), S.RUNNING)
    for url, params in ((LIVE, {"ids": op.pk.hex}), (DASHBOARD, {}),
                        (DASHBOARD, {"bank": bank.bank_id})):
        response = staff_without_operations.get(url, params)
        assert response.status_code == 403
        assert bank.bank_id not in response.content.decode()
    index = staff_without_operations.get("/admin/").content.decode()
    assert "hs-index-dashboard-link" not in index


def test_non_staff_are_sent_to_the_login_page(outsider_client, client, bank):
    op = submit_retain(bank)
    for c in (outsider_client, client):
        for url in (f"{LIVE}?ids={op.pk.hex}", DASHBOARD):
            response = c.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
