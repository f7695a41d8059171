"""A real browser (Debian's chromium driven by Playwright) against a live server: log in as
staff, filter pending operations, select three, run *Cancel selected*, confirm, and see the
message and the new statuses. Takes a screenshot of the changelist; with
``HINDSIGHT_UPDATE_SCREENSHOTS=1`` it replaces docs/img/admin-operations.png (otherwise it goes
to pytest's temporary directory, so a test run leaves the work tree clean).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db.models import F

from operations.models import Operation
from operations.states import OperationStatus
from tests.factories import make_bank, submit_retain
from tests.lifecycle import advance, record_failed_item, walk_to

S = OperationStatus
CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "admin-operations.png"
CHROMIUM_ARGS = [
    # We run as root in CI containers: chromium refuses to start sandboxed as root.
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _chromium_is_installed():
    """Fail, not skip: ``make test`` installs chromium, so its absence is a broken setup and a
    skip would hide that the admin was never looked at (issue 18)."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make system-deps` (Debian chromium)"


def aged(op: Operation, minutes: float) -> None:
    """Shift the whole timeline back (timestamps only) so wait and run times read naturally."""
    shift = timedelta(minutes=minutes)
    Operation.objects.filter(pk=op.pk).update(created_at=F("created_at") - shift)
    Operation.objects.filter(pk=op.pk, started_at__isnull=False).update(
        started_at=F("started_at") - shift + timedelta(minutes=minutes / 3))


def seed_screen() -> list[Operation]:
    """A plausible morning: batches running, some waiting, a few finished. Returns the
    pending ones, oldest first."""
    support, research, sales = (make_bank(b) for b in ("support-agent", "research-bot",
                                                       "sales-assistant"))
    done = walk_to(submit_retain(support, 1000), S.RUNNING)
    advance(done, 1000)
    from operations import transitions

    transitions.complete(done.pk, "test-worker", {"memory_count": 1000})
    aged(done, 42)
    failed = walk_to(submit_retain(research, 5000), S.RUNNING)
    advance(failed, 1730)
    record_failed_item(failed, 1730, "content must not be empty")
    transitions.fail(failed.pk, "test-worker", "database is locked", "OperationalError")
    aged(failed, 35)
    walk_to(submit_retain(sales, 800), S.CANCELLED)
    for bank, total, done_units, minutes in ((support, 10_000, 7_200, 12), (research, 2_500, 450,
                                                                         6), (sales, 1000, 80, 2)):
        op = walk_to(submit_retain(bank, total), S.RUNNING)
        advance(op, done_units)
        aged(op, minutes)
    pending = []
    for bank, total in ((support, 3000), (research, 1200), (sales, 600), (support, 250)):
        op = submit_retain(bank, total)
        pending.append(op)
    return pending


@pytest.fixture
def browser_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # still plain synchronous calls, which Django would otherwise refuse next to a loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def test_staff_cancels_three_pending_operations_in_the_browser(live_server, browser_page, tmp_path):
    page = browser_page
    User.objects.create_superuser("ops", "ops@example.com", "correct horse")
    pending = seed_screen()

    page.goto(f"{live_server.url}/admin/login/?next=/admin/operations/operation/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/operations/operation/")

    # Styled by the admin's own CSS (served by WhiteNoise) plus ours.
    header_bg = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
    assert header_bg == "rgb(44, 62, 80)"
    widths = page.eval_on_selector_all(
        ".hs-progress__bar", "els => els.map(e => e.getBoundingClientRect().width)")
    assert max(widths) == page.eval_on_selector(".hs-progress", "e => e.clientWidth")  # 100%
    assert 0 < sorted(widths)[-3] < max(widths)
    assert page.locator(".hs-progress__text", has_text="7,200 / 10,000 (72%)").count() == 1

    page.click("#toggle-nav-sidebar")  # the app list is not what the picture is about
    screenshot = (DOCS_SCREENSHOT if os.environ.get("HINDSIGHT_UPDATE_SCREENSHOTS") == "1"
                  else tmp_path / "admin-operations.png")
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one

    page.click("#changelist-filter a:text-is('Pending')")
    page.wait_for_url("**status__exact=pending**")
    assert page.locator("#result_list tbody tr").count() == 4
    checkboxes = page.locator("#result_list input.action-select")
    for i in range(3):
        checkboxes.nth(i).check()
    page.select_option("select[name=action]", "cancel_selected")
    page.click("button[name=index]")

    assert page.inner_text("#hs-confirm-summary") == "Cancel 3 operations?"
    page.click("input[type=submit][value='Yes, cancel them']")
    page.wait_for_selector(".messagelist")
    assert page.inner_text(".messagelist").strip() == "Cancelled 3 operations."
    # Still filtered on pending: only the one left unselected remains.
    assert page.locator("#result_list tbody tr").count() == 1

    page.goto(f"{live_server.url}/admin/operations/operation/?status__exact=cancelled")
    cancelled_ids = {op.pk for op in pending[1:]}  # the three newest were listed first
    statuses = dict(Operation.objects.filter(pk__in=[op.pk for op in pending])
                    .values_list("pk", "status"))
    assert {pk for pk, status in statuses.items() if status == S.CANCELLED} == cancelled_ids
    assert statuses[pending[0].pk] == S.PENDING
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 4  # three just now and the one cancelled earlier
    for pk in cancelled_ids:
        row = page.locator("#result_list tbody tr", has_text=str(pk)[:8])
        assert row.locator(".hs-badge--cancelled").inner_text() == "cancelled"  # CSS lowercase


def test_the_operations_changelist_fits_a_1400_px_window(live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1385, "height": 900})  # a 1400-px window, less its scrollbar
    User.objects.create_superuser("ops", "ops@example.com", "correct horse")
    seed_screen()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/operations/operation/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/operations/operation/")
    # With the app sidebar and the filters open, as a newcomer first sees it.
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    # The admin scrolls a too-wide table inside its .results box: nothing may be hidden there.
    scroll, visible = page.eval_on_selector(".results", "e => [e.scrollWidth, e.clientWidth]")
    last_header = page.eval_on_selector("#result_list thead th:last-child",
                                        "e => e.getBoundingClientRect().right")
    assert overflow <= 0 and last_header <= 1385, (overflow, last_header)
    assert scroll <= visible, (scroll, visible)
