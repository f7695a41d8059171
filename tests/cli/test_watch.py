"""``hindsight operations watch``: progress rendering, exit codes per terminal state, long-poll,
Ctrl-C, ``--all`` and the rich bar on a real pseudo-terminal."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from hindsight_cli.client import HindsightClient
from operations import transitions
from operations.services import cancel_operation
from tests.cli.conftest import WORKER, advance, run_in_pty, running_operation, status_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quiet_sweeper")]
RATE = re.compile(r"(\d+\.\d) items/s ETA (\d+):(\d\d):(\d\d)")


def test_watch_renders_progress_with_rate_and_eta_and_exits_0_on_completed(
    demo_bank, cli_background
):
    op = running_operation(demo_bank, total=100)
    watch = cli_background("operations", "watch", "demo", str(op.pk))
    watch.wait_for(f"{op.pk} running 0 / 100 (0%)")
    advance(op, 20)
    watch.wait_for("running 20 / 100 (20%)")
    advance(op, 20)
    out = watch.wait_for("running 40 / 100 (40%)")
    line = next(line for line in out.splitlines() if "40 / 100" in line)
    rate = RATE.search(line)
    assert rate, line
    assert float(rate.group(1)) > 0
    advance(op, 60)
    assert transitions.complete(op.pk, WORKER)
    result = watch.finish()
    assert result.code == 0
    done = rf"{op.pk} completed 100 / 100 \(100%\) in \d+\.\d s after \d+\.\d s queued, 0 failed"
    assert re.search(done, result.stdout)


def test_watch_exits_1_on_failed_and_prints_the_error(demo_bank, cli_background):
    op = running_operation(demo_bank, total=10)
    watch = cli_background("operations", "watch", "demo", str(op.pk))
    watch.wait_for("running 0 / 10 (")
    advance(op, 4)
    watch.wait_for("running 4 / 10 (")
    assert transitions.fail(op.pk, WORKER, "embedding service unavailable")
    result = watch.finish()
    assert result.code == 1
    last = result.stdout.strip().splitlines()[-1]
    assert f"{op.pk} failed 4 / 10 (" in last
    assert "embedding service unavailable" in last


def test_watch_exits_2_on_cancelled(demo_bank, cli_background):
    op = running_operation(demo_bank, total=10)
    watch = cli_background("operations", "watch", "demo", str(op.pk))
    watch.wait_for("running 0 / 10 (")
    cancel_operation(demo_bank, str(op.pk))
    result = watch.finish()
    assert result.code == 2
    assert f"{op.pk} cancelled 0 / 10 (" in result.stdout


def test_watch_of_a_finished_operation_returns_its_exit_code_at_once(demo_bank, cli):
    op = running_operation(demo_bank, total=10)
    cancel_operation(demo_bank, str(op.pk))
    result = cli("operations", "watch", "demo", str(op.pk), "--json")
    assert result.code == 2
    assert result.json()["status"] == "cancelled"


def test_watch_json_emits_one_operation_per_line(demo_bank, cli_background):
    op = running_operation(demo_bank, total=10)
    watch = cli_background("operations", "watch", "demo", str(op.pk), "--json")
    watch.wait_for('"progress": 0')
    advance(op, 10)
    watch.wait_for('"progress": 10')
    assert transitions.complete(op.pk, WORKER)
    result = watch.finish()
    snapshots = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["progress"] for s in snapshots] == [0, 10, 10]
    assert snapshots[-1]["status"] == "completed"
    assert result.code == 0


def test_ctrl_c_stops_watching_and_leaves_the_operation_running(
    demo_bank, cli_background, server_requests
):
    op = running_operation(demo_bank, total=10)
    watch = cli_background("operations", "watch", "demo", str(op.pk))
    watch.wait_for("running 0 / 10 (")
    server_requests.wait_for_long_polls(1)  # the CLI now waits in a long-poll request
    watch.interrupt()
    result = watch.finish(timeout=30)
    assert result.code == 130
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert f"operation {op.pk} is still running" in result.stderr
    assert f"hindsight operations cancel demo {op.pk}" in result.stderr
    assert status_of(op) == "running"


def test_follow_operation_long_polls_instead_of_polling(demo_bank, live_server, server_requests):
    """While nothing changes, the client sits in one long-poll request; a change wakes it."""
    op = running_operation(demo_bank, total=10)
    responses: list[int] = []
    client = HindsightClient(live_server.url)
    client._http.event_hooks["response"].append(lambda r: responses.append(r.status_code))
    seen: list[int] = []
    stream = client.follow_operation("demo", str(op.pk))

    def consume() -> None:
        for operation in stream:
            seen.append(operation["progress"])

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    server_requests.wait_for_long_polls(1)
    assert seen == [0]
    assert responses == [200]  # the first read answered; the long-poll is still waiting
    advance(op, 3)
    deadline = time.monotonic() + 60
    while seen[-1] != 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [0, 3]
    # Woken by the change (200 with the new state), not by the 30 s timer (304, then a poll).
    assert responses == [200, 200]
    assert server_requests.long_polls() >= 1
    assert transitions.complete(op.pk, WORKER)
    thread.join(timeout=60)
    assert not thread.is_alive()
    client.close()


def test_watch_all_adds_new_operations_and_closes_finished_ones(demo_bank, cli_background):
    first = running_operation(demo_bank, total=10)
    second = running_operation(demo_bank, total=20)
    watch = cli_background("operations", "watch", "demo", "--all")
    watch.wait_for(f"{first.pk} running 0 / 10 (")
    watch.wait_for(f"{second.pk} running 0 / 20 (")
    advance(first, 10)
    assert transitions.complete(first.pk, WORKER)
    watch.wait_for(f"{first.pk} completed 10 / 10 (")
    third = running_operation(demo_bank, total=30)
    watch.wait_for(f"{third.pk} running 0 / 30 (")
    cancel_operation(demo_bank, str(second.pk))
    watch.wait_for(f"{second.pk} cancelled")
    assert watch.proc.poll() is None  # the third one is still active
    advance(third, 30)
    assert transitions.complete(third.pk, WORKER)
    result = watch.finish()
    assert f"{third.pk} completed 30 / 30 (" in result.stdout
    assert result.code == 2  # one of them was cancelled


def test_watch_all_exits_1_when_any_operation_failed(demo_bank, cli_background):
    failing = running_operation(demo_bank, total=10)
    finishing = running_operation(demo_bank, total=10)
    watch = cli_background("operations", "watch", "demo", "--all")
    watch.wait_for(f"{failing.pk} running 0 / 10 (")
    watch.wait_for(f"{finishing.pk} running 0 / 10 (")
    assert transitions.fail(failing.pk, WORKER, "disk full")
    watch.wait_for(f"{failing.pk} failed")
    advance(finishing, 10)
    assert transitions.complete(finishing.pk, WORKER)
    result = watch.finish()
    assert f"{finishing.pk} completed 10 / 10 (" in result.stdout
    assert result.code == 1  # failed beats completed


def test_ctrl_c_stops_watch_all_and_leaves_the_operations_running(demo_bank, cli_background):
    first = running_operation(demo_bank, total=10)
    second = running_operation(demo_bank, total=10)
    watch = cli_background("operations", "watch", "demo", "--all")
    watch.wait_for(f"{first.pk} running 0 / 10 (")
    watch.wait_for(f"{second.pk} running 0 / 10 (")
    watch.interrupt()
    result = watch.finish(timeout=30)
    assert result.code == 130
    assert result.stderr.strip().splitlines() == [
        "stopped watching; 2 operation(s) of bank demo are still active on the server"
    ]
    assert status_of(first) == status_of(second) == "running"


def test_watch_all_with_nothing_active_says_so(demo_bank, cli):
    result = cli("operations", "watch", "demo", "--all")
    assert result.code == 0
    assert "no pending or running operations in bank demo" in result.stderr


def test_watch_draws_a_rich_progress_bar_on_a_terminal(demo_bank, live_server, tmp_path):
    op = running_operation(demo_bank, total=50)

    def wait_for(screen, pattern: str) -> None:
        deadline = time.monotonic() + 60
        while not re.search(pattern, screen()):
            assert time.monotonic() < deadline, f"{pattern!r} not drawn; end={screen()[-400:]!r}"
            time.sleep(0.02)

    def drive(screen) -> None:
        wait_for(screen, "0/50")
        advance(op, 10)
        wait_for(screen, "10/50")
        advance(op, 15)
        wait_for(screen, "25/50")
        # Two progress values seen: a real rate and ETA, not rich's "? items/s ETA ?".
        wait_for(screen, RATE.pattern)
        advance(op, 25)
        assert transitions.complete(op.pk, WORKER)

    code, screen = run_in_pty(live_server.url, ["operations", "watch", "demo", str(op.pk)],
                              tmp_path, during=drive)
    assert code == 0
    assert "━" in screen  # rich's bar
    rate = RATE.search(screen)
    assert rate and float(rate.group(1)) > 0, screen
    assert "completed" in screen
