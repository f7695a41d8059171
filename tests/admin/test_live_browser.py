"""The live admin in a real browser (Debian's chromium driven by Playwright) against a live
server running operations on the embedded executor: a 20,000-item batch advances on the
changelist without a reload, is cancelled from its row, and the badge changes at once; the
change page follows a run the same way; a page with nothing running keeps one idle long-poll
open and makes no other request.

Screenshots go to pytest's temporary directory; with ``HINDSIGHT_UPDATE_SCREENSHOTS=1`` the
live changelist replaces ``docs/img/admin-live-changelist.png``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from operations.models import Operation
from operations.states import OperationStatus
from tests.admin.test_browser import _chromium_is_installed, browser_page  # noqa: F401 (fixtures)
from tests.factories import make_bank, submit_retain
from tests.lifecycle import status_of, walk_to

S = OperationStatus
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
CHANGELIST = "/admin/operations/operation/"

pytestmark = pytest.mark.django_db(transaction=True)


def screenshot_path(name: str, tmp_path: Path) -> Path:
    if os.environ.get("HINDSIGHT_UPDATE_SCREENSHOTS") == "1":
        return DOCS_IMG / name
    return tmp_path / name


def log_in(page, base: str, username: str, password: str, next_path: str) -> None:
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_path}")


def mark_page(page) -> None:
    """A flag on this document: still there later means the page was never reloaded."""
    page.evaluate("window.__hsNotReloaded = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__hsNotReloaded === true")


def progress_values_seen(page, selector: str, wanted: int, deadline_s: float) -> list[str]:
    """Distinct texts of ``selector`` observed in the DOM (a MutationObserver records every
    one the script writes, so none is missed between two Python reads)."""
    page.evaluate(
        """sel => {
            window.__hsSeen = [];
            const record = () => {
                const el = document.querySelector(sel);
                if (el && !window.__hsSeen.includes(el.textContent)) {
                    window.__hsSeen.push(el.textContent);
                }
            };
            record();
            new MutationObserver(record).observe(document.body,
                {subtree: true, childList: true, characterData: true});
        }""",
        selector,
    )
    page.wait_for_function(f"window.__hsSeen.length >= {wanted}", timeout=deadline_s * 1000)
    return page.evaluate("window.__hsSeen")


@pytest.fixture
def slow_20k(settings):
    """20,000 items in chunks of 200, each taking >= 150 ms: 100 visible steps over fifteen
    seconds or more, long enough to watch and cancel mid-run however fast the machine."""
    from operations.registry import get_job, register
    from operations.states import OperationType
    from tests.conftest import SlowBatchRetain

    class Slower(SlowBatchRetain):
        delay = 0.15

    settings.HINDSIGHT_CHUNK_SIZE = 200
    settings.HINDSIGHT_MAX_BATCH_ITEMS = 20_000  # the default caps one request at 10,000
    original = get_job(OperationType.BATCH_RETAIN)
    register(Slower())
    yield
    register(original)


def test_a_20000_item_operation_advances_live_and_is_cancelled_from_its_row(
    live_server, browser_page, slow_20k, tmp_path  # noqa: F811 (fixture)
):
    page = browser_page
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    bank = make_bank("support-agent")
    failed = walk_to(submit_retain(bank, 40), S.FAILED)
    log_in(page, live_server.url, "ops", "pw", CHANGELIST)

    live_requests: list[str] = []
    page.on("request", lambda r: live_requests.append(r.url) if "/live/" in r.url else None)
    op = submit_retain(bank, 20_000, dispatch=True)
    page.goto(f"{live_server.url}{CHANGELIST}")
    mark_page(page)
    row = page.locator("#result_list tbody tr", has_text=str(op.pk)[:8])
    text = f'[data-hs-op="{op.pk}"][data-hs-field="progress"] .hs-progress__text'

    seen = progress_values_seen(page, text, wanted=4, deadline_s=90)
    assert len(set(seen)) >= 3, seen
    assert all(value.endswith("%)") and "/ 20,000" in value for value in seen)
    assert not_reloaded(page)
    assert row.locator(".hs-badge--running").count() == 1
    page.click("#toggle-nav-sidebar")
    page.screenshot(path=str(screenshot_path("admin-live-changelist.png", tmp_path)),
                    full_page=True)

    # The failed row has a Retry button, the running one Cancel; cancel it in place.
    assert page.locator(f'button[data-hs-act="retry"][data-hs-for="{failed.pk}"]').count() == 1
    row.locator('button[data-hs-act="cancel"]').click()
    row.locator(".hs-badge--cancelled").wait_for()
    assert row.locator('button[data-hs-act="retry"]').count() == 1
    assert status_of(op) == S.CANCELLED
    assert page.inner_text("#hs-live-note") == f"Cancelled operation {str(op.pk)[:8]}."
    assert not_reloaded(page)
    frozen = Operation.objects.get(pk=op.pk).progress
    assert 0 < frozen < 20_000
    # Nothing of it commits after the cancel: the text stays where the cancel left it.
    assert row.locator(".hs-progress__text").inner_text().startswith(f"{frozen:,} / 20,000")

    # Nothing on the page runs any more: one idle long-poll stays open, nothing else is asked.
    page.wait_for_function("() => true")
    deadline = time.monotonic() + 30
    while not (live_requests and "wait=55" in live_requests[-1]) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert "wait=55" in live_requests[-1]
    idle_from = len(live_requests)
    page.wait_for_timeout(3000)
    assert len(live_requests) == idle_from


def test_change_page_follows_a_run_and_retries_it_in_place(live_server, browser_page, slow_20k):  # noqa: F811
    page = browser_page
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    bank = make_bank("research-bot")
    op = walk_to(submit_retain(bank, 5_000), S.CANCELLED)
    url = f"{CHANGELIST}{op.pk}/change/"
    log_in(page, live_server.url, "ops", "pw", url)
    mark_page(page)
    assert page.is_hidden("#hs-cancel") and page.is_visible("#hs-retry")

    page.click("#hs-retry")  # posts in place, then the run is followed live
    page.locator('[data-hs-field="status"] .hs-badge--running').wait_for(timeout=60_000)
    assert page.is_visible("#hs-cancel") and page.is_hidden("#hs-retry")
    seen = progress_values_seen(
        page, '[data-hs-field="progress"] .hs-progress__text', wanted=3, deadline_s=60)
    assert len(set(seen)) >= 3
    page.click("#hs-cancel")
    page.locator('[data-hs-field="status"] .hs-badge--cancelled').wait_for()
    assert page.is_visible("#hs-retry")
    assert "Cancelled" in page.inner_text('[data-hs-field="timeline"]')
    assert not_reloaded(page)


def test_a_long_poll_answered_before_a_cancel_does_not_put_the_running_row_back(
    live_server, browser_page  # noqa: F811 (fixture)
):
    """The page's long-poll and a Cancel's answer race; the older state arriving last must not
    win (seen under load: the badge said cancelled, then running with a Cancel button again)."""
    from tests.lifecycle import advance

    page = browser_page
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    op = walk_to(submit_retain(make_bank("support-agent"), 100), S.RUNNING)
    log_in(page, live_server.url, "ops", "pw", CHANGELIST)
    mark_page(page)
    row = page.locator("#result_list tbody tr", has_text=str(op.pk)[:8])
    stale = page.request.get(f"{live_server.url}{CHANGELIST}live/?view=list&ids={op.pk}")
    assert stale.json()["operations"][str(op.pk)]["status"] == "running"

    held = []  # the next long-poll, answered only after the cancel: with the state before it

    def hold_one(route):
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/live/?*", hold_one)
    advance(op, 37)  # ends the poll in flight; the script's next one is held
    page.locator("text=37 / 100 (37%)").wait_for()
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the page never asked again"

    row.locator('button[data-hs-act="cancel"]').click()
    row.locator(".hs-badge--cancelled").wait_for()
    with page.expect_request("**/live/?*"):  # the script asks again once it applied the answer
        held[0].fulfill(status=200, body=stale.body(), headers=dict(stale.headers))
    assert row.locator(".hs-badge--cancelled").count() == 1
    assert row.locator('button[data-hs-act="retry"]').count() == 1
    assert row.locator('button[data-hs-act="cancel"]').count() == 0
    assert not_reloaded(page)


def test_view_only_staff_watch_live_without_cancel_or_retry_buttons(live_server, browser_page):  # noqa: F811
    page = browser_page
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_operation"))
    bank = make_bank("sales-assistant")
    op = walk_to(submit_retain(bank, 100), S.RUNNING)
    failed = walk_to(submit_retain(bank, 10), S.FAILED)
    log_in(page, live_server.url, "viewer", "pw", CHANGELIST)
    mark_page(page)
    assert page.locator("button[data-hs-act]").count() == 0
    from tests.lifecycle import advance

    advance(op, 37)
    page.locator("text=37 / 100 (37%)").wait_for()
    assert page.locator("button[data-hs-act]").count() == 0
    page.goto(f"{live_server.url}{CHANGELIST}{failed.pk}/change/")
    assert page.locator("#hs-retry").count() == 0 and page.locator("#hs-cancel").count() == 0


def finish_some_operations(bank) -> list[Operation]:
    """Real runs on the embedded executor: batches and a graph update complete, one batch is
    cancelled before it starts, one fails."""
    from operations.executor import get_executor
    from operations.states import OperationType
    from operations.submission import submit
    from tests.conftest import wait_idle

    done = [submit_retain(bank, n, dispatch=True) for n in (30, 60, 90)]
    get_executor().start()
    wait_idle(60)
    graph = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=True).operation
    cancelled = walk_to(submit_retain(bank, 10), S.CANCELLED)
    failed = walk_to(submit_retain(bank, 10), S.FAILED)
    wait_idle(60)
    ops = [*done, graph, cancelled, failed]
    assert {o.status for o in Operation.objects.filter(pk__in=[o.pk for o in ops])} == {
        S.COMPLETED, S.CANCELLED, S.FAILED}
    return ops


def test_dashboard_charts_what_the_test_ran_and_follows_a_running_batch(
    live_server, browser_page, slow_20k, tmp_path  # noqa: F811 (fixture)
):
    page = browser_page
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    bank = make_bank("support-agent")
    finish_some_operations(bank)
    big = submit_retain(bank, 20_000, dispatch=True)

    log_in(page, live_server.url, "ops", "pw", "/admin/")
    page.click("#hs-index-dashboard-link")
    page.wait_for_url("**/operations/operation/dashboard/")
    mark_page(page)

    # Started per minute, stacked by type: both types the test ran have bars.
    started = page.locator("#hs-started rect.hs-bar")
    assert started.count() >= 2
    titles = " ".join(started.locator("title").all_text_contents())
    assert "Batch retain:" in titles and "Graph update:" in titles
    # Finished, by outcome, per type: completed, failed and cancelled segments of batch_retain.
    for outcome in ("Completed", "Failed", "Cancelled"):
        assert page.locator(
            f'#hs-finished-batch_retain rect.hs-bar[data-series="{outcome}"]').count() >= 1
    total = sum(int(t.rsplit(": ", 1)[1].split()[0]) for t in page.locator(
        '#hs-finished-batch_retain rect.hs-bar[data-series="Completed"] title').all_text_contents())
    assert total == 3
    # Queue wait and run time per type, and units per second.
    assert page.locator("#hs-wait rect.hs-p50").count() == 2
    assert page.locator("#hs-run rect.hs-p95").count() == 2
    assert "Batch retain p50:" in " ".join(
        page.locator("#hs-run title").all_text_contents())
    assert page.locator("#hs-units rect.hs-bar").count() >= 1
    assert "embedded" in page.inner_text("#hs-executor")

    # The running batch's bar advances in place.
    page.locator(f'#hs-running [data-hs-op="{big.pk}"]').first.wait_for(timeout=30_000)
    seen = progress_values_seen(
        page, f'#hs-running [data-hs-op="{big.pk}"][data-hs-field="progress"] '
        '.hs-progress__text', wanted=3, deadline_s=60)
    assert len(set(seen)) >= 3
    page.click("#toggle-nav-sidebar")
    page.screenshot(path=str(screenshot_path("admin-dashboard.png", tmp_path)), full_page=True)
    page.locator(f'#hs-running button[data-hs-act="cancel"][data-hs-for="{big.pk}"]').click()
    page.locator(f'#hs-running [data-hs-op="{big.pk}"] .hs-badge--cancelled').wait_for()
    assert not_reloaded(page)
