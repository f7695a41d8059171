"""The status poll's cost and contract: one query, a 304 from the row's version, a terminal
result rendered once and served as stored, ``?fields=`` / ``?result=summary``, the bounded
long-poll, and the cached "does any API key exist" answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from banks.apikeys import create_key, revoke_key
from banks.models import Memory
from operations import serializers as operation_serializers
from operations import services, transitions
from operations.models import Operation
from operations.runner import run_operation
from operations.serializers import OperationSerializer
from tests.factories import make_bank, submit_retain

ROOT = Path(__file__).resolve().parents[2]


def this_tests_database_url() -> str:
    """The database this test runs on (SQLite file or PostgreSQL), for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:"
            f"{db['PORT']}/{db['NAME']}")


def detail_url(op: Operation, bank: str = "alpha", query: str = "") -> str:
    return f"/api/banks/{bank}/operations/{op.pk}/{query}"


@pytest.fixture
def completed(bank):
    op = submit_retain(bank, n=10)
    assert run_operation(op.pk) == "completed"
    op.refresh_from_db()
    return op


def test_status_poll_of_a_completed_operation_is_one_query(api, completed):
    api.get(detail_url(completed))  # warms the per-process "any API key?" answer
    with CaptureQueriesContext(connection) as queries:
        response = api.get(detail_url(completed))
    assert response.status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert len(response.json()["result"]["memory_ids"]) == 10


def test_conditional_get_answers_304_from_the_row_without_rendering(api, completed,
                                                                     monkeypatch):
    etag = api.get(detail_url(completed))["ETag"]

    def must_not_render(*args, **kwargs):
        raise AssertionError("a 304 rendered the operation")

    monkeypatch.setattr("operations.views.render_detail", must_not_render)
    monkeypatch.setattr(services, "result_rendering", must_not_render)
    with CaptureQueriesContext(connection) as queries:
        response = api.get(detail_url(completed), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304 and response["ETag"] == etag
    assert len(queries) == 1
    assert "result_rendering" not in queries[0]["sql"]  # the big column stays on disk


def test_a_terminal_operations_next_polls_get_its_kept_body_after_a_one_column_read(
        api, completed, monkeypatch):
    first = api.get(detail_url(completed))

    def must_not_render(*args, **kwargs):
        raise AssertionError("a kept body was rendered again")

    monkeypatch.setattr("operations.views.render_detail", must_not_render)
    with CaptureQueriesContext(connection) as queries:
        again = api.get(detail_url(completed))
    assert again.status_code == 200
    assert (again.content, again["ETag"]) == (first.content, first["ETag"])
    assert len(queries) == 1 and "result_rendering" not in queries[0]["sql"]
    monkeypatch.undo()  # another representation is rendered, and kept under its own ETag
    summary = api.get(detail_url(completed, query="?result=summary"))
    assert summary.json()["result"] == {"memory_count": 10, "failed_items_count": 0}


def test_completion_stores_the_rendered_result_and_polls_serve_it_unchanged(api, completed):
    stored = Operation.objects.values_list("result_rendering", flat=True).get(pk=completed.pk)
    assert json.loads(stored)["memory_ids"] == [
        str(pk) for pk in Memory.objects.filter(operation=completed)
        .order_by("item_index").values_list("pk", flat=True)]
    # The result of a terminal operation never changes: later reads are the stored rendering,
    # not a fresh query of the memories.
    Memory.objects.filter(operation=completed).delete()
    body = api.get(detail_url(completed)).json()
    assert body["result"] == json.loads(stored)


def test_detail_body_is_the_documented_operation_object(api, completed):
    body = api.get(detail_url(completed)).json()
    reference = OperationSerializer(completed, context={"full_result": True}).data
    assert body == json.loads(json.dumps(reference))
    assert list(body) == [*(f for f in operation_serializers.OPERATION_FIELDS if f != "result"),
                          "result"]


def test_cancelled_operation_is_rendered_on_first_read_and_retry_forgets_it(api, bank):
    op = submit_retain(bank, n=5)
    transitions.cancel(op.pk)
    first = api.get(detail_url(op)).json()
    assert first["status"] == "cancelled" and first["result"]["memory_ids"] == []
    stored = Operation.objects.values_list("result_rendering", flat=True).get(pk=op.pk)
    assert json.loads(stored) == first["result"]
    transitions.retry(op.pk)
    assert Operation.objects.values_list("result_rendering", flat=True).get(pk=op.pk) is None
    assert api.get(detail_url(op)).json()["result"] is None


def test_fields_and_summary_skip_memory_ids_and_have_their_own_etag(api, completed):
    full = api.get(detail_url(completed))
    small = api.get(detail_url(completed, query="?fields=status,progress,total"))
    assert small.json() == {"status": "completed", "progress": 10, "total": 10}
    summary = api.get(detail_url(completed, query="?result=summary"))
    assert summary.json()["result"] == {"memory_count": 10, "failed_items_count": 0}
    with_result = api.get(detail_url(completed, query="?fields=status,result&result=summary"))
    assert with_result.json() == {"status": "completed",
                                  "result": {"memory_count": 10, "failed_items_count": 0}}
    assert len({full["ETag"], small["ETag"], summary["ETag"], with_result["ETag"]}) == 4
    # A client's ETag of one representation never yields a 304 for another one.
    again = api.get(detail_url(completed, query="?result=summary"),
                    HTTP_IF_NONE_MATCH=full["ETag"])
    assert again.status_code == 200


@pytest.mark.parametrize("query", ["?fields=status,nope", "?fields=,", "?result=everything"])
def test_unknown_fields_or_result_mode_is_400(api, completed, query):
    response = api.get(detail_url(completed, query=query))
    assert response.status_code == 400
    assert set(response.json()) & {"fields", "result"}


def test_unknown_bank_is_reported_before_a_bad_operation_id(api, bank):
    assert api.get("/api/banks/nobank/operations/not-a-uuid/").json()["code"] == "bank_not_found"
    response = api.get("/api/banks/alpha/operations/not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["code"] == "operation_not_found"


def test_list_rows_render_like_the_field_serializer(api, completed):
    row = api.get("/api/banks/alpha/operations/").json()["operations"][0]
    reference = OperationSerializer(completed).data
    assert row == json.loads(json.dumps(reference))
    assert row["result"] == {"memory_count": 10, "failed_items_count": 0}


# --- long-poll ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_long_poll_wakes_on_a_change_made_elsewhere(api, settings):
    bank = make_bank("alpha")
    op = submit_retain(bank, n=3)
    etag = api.get(detail_url(op))["ETag"]
    threading.Timer(0.5, transitions.cancel, args=(op.pk,)).start()
    started = time.monotonic()
    response = api.get(detail_url(op, query="?wait=30"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert time.monotonic() - started < 20


@pytest.mark.django_db(transaction=True)
def test_long_polls_past_the_limit_get_429_at_once(api, settings):
    settings.HINDSIGHT_MAX_WAITERS = 0
    op = submit_retain(make_bank("alpha"), n=3)
    etag = api.get(detail_url(op))["ETag"]
    started = time.monotonic()
    response = api.get(detail_url(op, query="?wait=30"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 429 and response["Retry-After"] == "1"
    assert time.monotonic() - started < 10
    assert api.get(detail_url(op), HTTP_IF_NONE_MATCH=etag).status_code == 304  # wait=0 ok


@pytest.mark.django_db(transaction=True)
def test_many_waiters_share_one_query_per_tick(settings):
    from operations.waiting import WATCH_INTERVAL, Watcher

    settings.HINDSIGHT_MAX_WAITERS = 20
    ops = [submit_retain(make_bank("alpha"), n=1) for _ in range(10)]
    watcher = Watcher()
    woken: list[bool | None] = []
    with CaptureQueriesContext(connection) as queries:  # this thread's connection: none
        threads = [threading.Thread(
            target=lambda op=op: woken.append(watcher.wait(op.pk, op.updated_at, 60.0)))
            for op in ops]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while watcher.waiting < 10 and time.monotonic() < deadline:
            time.sleep(WATCH_INTERVAL)
        assert watcher.waiting == 10
    # A change to the rows, made elsewhere: the one watcher wakes every waiter.
    Operation.objects.filter(pk__in=[op.pk for op in ops]).update(updated_at=timezone.now())
    for thread in threads:
        thread.join(30)
    assert woken == [True] * 10
    assert len(queries) == 0
    assert watcher.waiting == 0


# --- the "any API key?" cache ------------------------------------------------------------------


def test_open_service_asks_for_keys_once_and_closes_as_soon_as_a_key_exists(api, bank,
                                                                           settings):
    settings.HINDSIGHT_KEY_CACHE_SECONDS = 3600
    api.get("/api/banks/alpha/operations/")
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/banks/alpha/operations/").status_code == 200
    assert not any("apikey" in q["sql"] for q in queries)
    issued = create_key("ci")
    assert api.get("/api/banks/alpha/operations/").status_code == 401
    revoke_key(issued.api_key.prefix)
    assert api.get("/api/banks/alpha/operations/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_key_created_by_another_process_closes_this_one_at_once(api, settings, tmp_path):
    settings.HINDSIGHT_KEY_CACHE_SECONDS = 3600  # only the stamp can tell this process
    make_bank("alpha")
    assert api.get("/api/banks/alpha/operations/").status_code == 200
    subprocess.run(
        [sys.executable, "manage.py", "apikeys", "create", "elsewhere"], cwd=ROOT, check=True,
        capture_output=True, env={**os.environ, "DATABASE_URL": this_tests_database_url(),
                                  "HINDSIGHT_DATA_DIR": str(settings.DATA_DIR)})
    assert api.get("/api/banks/alpha/operations/").status_code == 401


# --- the executors' doorbell (several serving processes) ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_busy_executor_rings_the_doorbell_and_a_free_one_runs_the_operation(gated_chunks):
    """Two executors sharing an eventfd stand for two gunicorn processes: the first one's only
    thread is busy, so a wake-up (what a commit of a new operation sends) reaches the second
    one's free thread, which asks the scheduler."""
    import os

    from operations.executor import EmbeddedExecutor

    doorbell = os.eventfd(0, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
    busy, free = EmbeddedExecutor(1, doorbell), EmbeddedExecutor(1, doorbell)
    try:
        bank = make_bank("alpha")
        long_op = submit_retain(bank, n=3000)
        busy.dispatch(long_op.pk)
        deadline = time.monotonic() + 60
        while (running := Operation.objects.get(pk=long_op.pk)).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert int(running.worker_id.rsplit(":", 1)[1]) in {t.ident for t in busy._threads}
        free.start()  # only now: its first sweep must not race busy for the long operation
        short = submit_retain(bank, n=5)
        busy.wake()  # no free thread here: rings the doorbell instead of waking a local one
        while (done := Operation.objects.get(pk=short.pk)).status != "completed":
            assert time.monotonic() < deadline, done.status
            time.sleep(0.05)
        thread = int(done.worker_id.rsplit(":", 1)[1])
        assert thread in {t.ident for t in free._threads}
        assert done.attempt == 1
        # The long operation is held before its second chunk (gated_chunks), so it was running
        # on busy's only thread all along; the cancel lands while it waits.
        assert Operation.objects.get(pk=long_op.pk).status == "running"
        transitions.cancel(long_op.pk)
        gated_chunks.gate.set()
    finally:
        busy.stop()
        free.stop()
        os.close(doorbell)


# --- the list page and the conditional GET in prepared SQL -------------------------------------


def test_common_list_reads_bank_page_and_total_in_one_statement_and_renders_like_serializer(
        api, bank):
    ops = [submit_retain(bank, n=2) for _ in range(3)]
    for op in ops[:2]:
        assert run_operation(op.pk) == "completed"
    api.get("/api/banks/alpha/operations/")  # warms the per-process "any API key?" answer
    with CaptureQueriesContext(connection) as queries:
        body = api.get("/api/banks/alpha/operations/?status=completed,pending&limit=2").json()
    # The bank, the page and the total (a further page exists, so it is counted): one statement.
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 0)
    expected = [OperationSerializer(Operation.objects.get(pk=op.pk)).data for op in ops[::-1]]
    assert body["operations"] == json.loads(json.dumps(expected[:2]))
    rest = api.get(f"/api/banks/alpha/operations/?status=completed,pending&limit=2"
                   f"&cursor={body['next_cursor']}").json()
    assert rest["operations"] == json.loads(json.dumps(expected[2:]))
    assert rest["total"] is None and rest["next_cursor"] is None


def test_common_list_of_an_empty_page_still_tells_an_unknown_bank_and_counts_the_total(
        api, bank):
    empty = api.get("/api/banks/alpha/operations/?status=completed").json()
    assert (empty["operations"], empty["total"], empty["next_cursor"]) == ([], 0, None)
    assert api.get("/api/banks/nobody/operations/?status=completed").status_code == 404
    ops = [submit_retain(bank, n=1) for _ in range(3)]
    past = api.get("/api/banks/alpha/operations/?limit=2&offset=5").json()
    assert (past["operations"], past["total"], past["offset"]) == ([], 3, 5)
    last = api.get("/api/banks/alpha/operations/?limit=2&offset=2").json()
    assert ([row["operation_id"] for row in last["operations"]], last["total"]) == (
        [str(ops[0].pk)], 3)
    assert last["next_cursor"] is None


def test_a_listed_terminal_row_shows_its_next_version_after_a_retry(api, bank):
    op = submit_retain(bank, n=3)
    transitions.cancel(op.pk)
    url = "/api/banks/alpha/operations/?limit=5"
    first = api.get(url).json()["operations"][0]  # a terminal row: rendered once and kept
    assert (first["status"], first["result"]) == ("cancelled", {"memory_count": 0,
                                                                "failed_items_count": 0})
    transitions.retry(op.pk)
    again = api.get(url).json()["operations"][0]
    assert (again["status"], again["result"], again["attempt"]) == ("pending", None, 0)
    assert run_operation(op.pk) == "completed"
    done = api.get(url).json()["operations"][0]
    assert (done["status"], done["result"]) == ("completed", {"memory_count": 3,
                                                             "failed_items_count": 0})


def test_conditional_get_with_another_banks_key_is_404_not_304(api, completed, other_bank):
    etag = api.get(detail_url(completed))["ETag"]
    issued = create_key("tenant-b", ["beta"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    response = api.get(detail_url(completed), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 404 and response.json()["code"] == "bank_not_found"
    elsewhere = api.get(detail_url(completed, bank="beta"), HTTP_IF_NONE_MATCH=etag)
    assert elsewhere.status_code == 404
    assert elsewhere.json()["code"] == "operation_not_found"
    listed = api.get("/api/banks/alpha/operations/?status=completed")
    assert listed.status_code == 404 and listed.json()["code"] == "bank_not_found"
