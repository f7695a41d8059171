"""``manage.py operations``: every subcommand against the real database, asserting both the
database outcome and what the operator reads."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from banks.models import Memory
from operations import transitions
from operations.models import Operation
from operations.states import OperationStatus, OperationType
from tests.factories import submit_retain
from tests.lifecycle import advance, backdate, record_failed_item, status_of, walk_to

S = OperationStatus
pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command("operations", *args, stdout=out)
    return out.getvalue()


# --- list -----------------------------------------------------------------------------------------


def test_list_prints_a_table_newest_first_with_progress(bank):
    older = walk_to(submit_retain(bank, 1000), S.RUNNING)
    advance(older, 450)
    newer = submit_retain(bank, 10)
    out = run("list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "BANK", "TYPE", "STATUS", "PROGRESS", "CREATED", "WAIT",
                                "DURATION"]
    assert str(newer.pk) in lines[2] and str(older.pk) in lines[3]
    assert "450 / 1,000 (45%)" in lines[3]
    assert "2 operations" in out


def test_list_filters_by_bank_status_and_type(bank, other_bank):
    pending = submit_retain(bank)
    failed = walk_to(submit_retain(bank), S.FAILED)
    elsewhere = submit_retain(other_bank)
    out = run("list", "--bank", "alpha", "--status", "failed", "--type", "batch_retain")
    assert str(failed.pk) in out
    assert str(pending.pk) not in out and str(elsewhere.pk) not in out
    both = run("list", "--status", "pending,failed", "--bank", "alpha")
    assert str(pending.pk) in both and str(failed.pk) in both


def test_list_json_uses_the_api_operation_format_and_honours_limit(bank):
    for _ in range(3):
        submit_retain(bank, 5)
    data = json.loads(run("list", "--json", "--limit", "2"))
    assert len(data["operations"]) == 2
    row = data["operations"][0]
    assert row["bank_id"] == "alpha" and row["status"] == "pending" and row["total"] == 5
    assert set(row) >= {"operation_id", "type", "progress", "created_at", "result"}


def test_list_of_unknown_bank_is_one_clear_error(db):
    with pytest.raises(CommandError, match="Bank 'nope' not found"):
        run("list", "--bank", "nope")


def test_list_rejects_an_unknown_status(db):
    with pytest.raises(CommandError, match="unknown status sleeping"):
        run("list", "--status", "sleeping")


def test_list_rejects_an_unknown_type(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("list", "--type", "compaction")


# --- get ------------------------------------------------------------------------------------------


def test_get_shows_timeline_error_and_failed_items(bank):
    op = walk_to(submit_retain(bank, 4), S.RUNNING)
    record_failed_item(op, 2, "content must not be empty")
    assert transitions.fail(op.pk, "test-worker", "disk full", "OSError")
    out = run("get", str(op.pk))
    assert f"Operation     {op.pk}" in out
    assert "Status        failed" in out
    assert "Error         OSError: disk full" in out
    assert "Worker        test-worker" in out
    assert "content must not be empty" in out


def test_get_accepts_the_short_id_shown_in_lists(bank):
    op = submit_retain(bank)
    out = run("get", str(op.pk)[:8])
    assert str(op.pk) in out


def test_get_json_has_the_full_result(bank):
    op = walk_to(submit_retain(bank, 3), S.COMPLETED)
    data = json.loads(run("get", str(op.pk), "--json"))
    assert data["operation_id"] == str(op.pk)
    assert data["status"] == "completed"
    assert data["result"] == {"memory_ids": [], "failed_items": []}


def test_get_of_unknown_or_malformed_id_is_one_clear_error(db):
    with pytest.raises(CommandError, match="Operation 00000000-0000-0000-0000-000000000000 not"):
        run("get", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(CommandError, match="Operation not-an-id not found"):
        run("get", "not-an-id")


def test_bad_id_exits_non_zero_with_one_line_on_stderr(tmp_path):
    env = {"HINDSIGHT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "manage.py", "operations", "get", "not-an-id"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3  # not found
    assert proc.stderr.strip().splitlines() == ["CommandError: Operation not-an-id not found"]
    assert proc.stdout == ""


def test_the_same_outcome_gives_the_same_exit_code(bank):
    """0 all done, 1 some refused, 2 usage, 3 not found: cancel and retry alike."""
    done = walk_to(submit_retain(bank), S.COMPLETED)
    codes = {}
    for action in ("cancel", "retry"):
        for name, ids in (("refused", [str(done.pk)]),
                          ("not found", ["00000000-0000-0000-0000-000000000000"]),
                          ("usage", ["xyz"])):
            with pytest.raises(CommandError) as raised:
                run(action, *ids)
            codes[action, name] = raised.value.returncode
    assert codes == {("cancel", "refused"): 1, ("retry", "refused"): 1,
                     ("cancel", "not found"): 3, ("retry", "not found"): 3,
                     ("cancel", "usage"): 2, ("retry", "usage"): 2}


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_by_ids_reports_per_outcome_counts(bank):
    pending = submit_retain(bank)
    running = walk_to(submit_retain(bank), S.RUNNING)
    done = walk_to(submit_retain(bank), S.COMPLETED)
    out = StringIO()
    with pytest.raises(CommandError, match="1 operation already finished") as refused:
        call_command("operations", "cancel", str(pending.pk), str(running.pk), str(done.pk),
                     stdout=out)
    assert refused.value.returncode == 1
    assert out.getvalue().strip() == "Cancelled 2 operations; 1 was already finished."
    assert (status_of(pending), status_of(running), status_of(done)) == (
        S.CANCELLED, S.CANCELLED, S.COMPLETED)


def test_cancel_all_pending_of_a_bank_leaves_running_and_other_banks(bank, other_bank):
    pending = [submit_retain(bank) for _ in range(3)]
    running = walk_to(submit_retain(bank), S.RUNNING)
    elsewhere = submit_retain(other_bank)
    data = json.loads(run("cancel", "--bank", "alpha", "--all-pending", "--json"))
    assert data["cancelled"] == 3
    assert sorted(data["operation_ids"]) == sorted(str(op.pk) for op in pending)
    assert status_of(running) == S.RUNNING
    assert status_of(elsewhere) == S.PENDING


def test_cancel_by_status_running(bank):
    running = walk_to(submit_retain(bank), S.RUNNING)
    pending = submit_retain(bank)
    run("cancel", "--bank", "alpha", "--status", "running")
    assert (status_of(running), status_of(pending)) == (S.CANCELLED, S.PENDING)


def test_cancel_of_unknown_id_exits_non_zero_after_cancelling_the_rest(bank):
    op = submit_retain(bank)
    with pytest.raises(CommandError, match="1 operation not found"):
        run("cancel", str(op.pk), "00000000-0000-0000-0000-000000000000")
    assert status_of(op) == S.CANCELLED


def test_cancel_with_malformed_id_changes_nothing(bank):
    op = submit_retain(bank)
    with pytest.raises(CommandError, match="Invalid operation id: xyz"):
        run("cancel", str(op.pk), "xyz")
    assert status_of(op) == S.PENDING


def test_cancel_needs_ids_or_a_bank_filter(bank):
    with pytest.raises(CommandError, match="give operation ids"):
        run("cancel")
    with pytest.raises(CommandError, match="need --bank"):
        run("cancel", "--all-pending")


def test_cancel_in_an_unknown_bank_is_one_clear_error(db):
    with pytest.raises(CommandError, match="Bank 'ghost' not found"):
        run("cancel", "--bank", "ghost", "--all-pending")


# --- retry ----------------------------------------------------------------------------------------


def test_retry_moves_failed_and_cancelled_back_to_pending(bank):
    failed = walk_to(submit_retain(bank), S.FAILED)
    cancelled = walk_to(submit_retain(bank), S.CANCELLED)
    out = run("retry", str(failed.pk), str(cancelled.pk))
    assert out.strip() == "Retried 2 operations."
    assert status_of(failed) == S.PENDING and status_of(cancelled) == S.PENDING


def test_retry_of_a_running_operation_is_refused_with_its_status(bank):
    running = walk_to(submit_retain(bank), S.RUNNING)
    failed = walk_to(submit_retain(bank), S.FAILED)
    out = StringIO()
    with pytest.raises(CommandError, match="1 operation could not be retried"):
        call_command("operations", "retry", str(running.pk), str(failed.pk), stdout=out)
    assert "Retried 1 operation; 1 was running" in out.getvalue()
    assert status_of(running) == S.RUNNING and status_of(failed) == S.PENDING


# --- reap -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reap_requeues_a_running_operation_whose_heartbeat_is_stale(settings):
    from tests.factories import make_bank

    settings.HINDSIGHT_MAX_ATTEMPTS = 3
    op = walk_to(submit_retain(make_bank("reaped"), 3), S.RUNNING, worker_id="dead-worker")
    Operation.objects.filter(pk=op.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.HINDSIGHT_STALE_AFTER + 60)
    )
    data = json.loads(run("reap", "--json"))
    assert data["requeued"] == [str(op.pk)]
    # Re-dispatched through the configured (embedded) executor: it resumes and finishes.
    from tests.conftest import wait_idle

    wait_idle()
    op.refresh_from_db()
    assert op.status == S.COMPLETED
    assert op.lost_count == 1
    assert Memory.objects.filter(operation=op).count() == 3


def test_reap_with_nothing_stale_says_so(bank):
    walk_to(submit_retain(bank), S.RUNNING)
    out = run("reap")
    assert out.strip() == (
        "Requeued 0 operations whose worker was lost; failed 0 operations whose worker was "
        "lost 3 times (HINDSIGHT_MAX_ATTEMPTS); re-dispatched 0 pending operations."
    )


# --- prune ----------------------------------------------------------------------------------------


def test_prune_deletes_only_terminal_operations_past_retention_and_keeps_memories(bank):
    old_done = walk_to(submit_retain(bank), S.COMPLETED)
    Memory.objects.create(bank=bank, content="kept", operation=old_done, item_index=0)
    old_failed = walk_to(submit_retain(bank), S.FAILED)
    old_pending = submit_retain(bank)
    recent_done = walk_to(submit_retain(bank), S.COMPLETED)
    long_ago = timezone.now() - timedelta(days=40)
    for op in (old_done, old_failed, old_pending):
        backdate(op, long_ago)
    out = run("prune", "--older-than", "30d")
    assert "Deleted 2 terminal operations finished before" in out
    assert "batch_retain  completed      1" in out
    assert "batch_retain  failed         1" in out
    remaining = set(Operation.objects.values_list("pk", flat=True))
    assert remaining == {old_pending.pk, recent_done.pk}
    assert Memory.objects.get(content="kept").operation_id is None


def test_prune_dry_run_counts_without_deleting(bank):
    op = walk_to(submit_retain(bank), S.CANCELLED)
    backdate(op, timezone.now() - timedelta(hours=3))
    data = json.loads(run("prune", "--older-than", "2h", "--dry-run", "--json"))
    assert data["dry_run"] is True and data["matched"] == 1 and data["deleted"] == 0
    assert data["by_type_and_status"] == [
        {"type": "batch_retain", "status": "cancelled", "count": 1}
    ]
    assert Operation.objects.filter(pk=op.pk).exists()


def test_prune_defaults_to_the_retention_setting(bank, settings):
    settings.HINDSIGHT_RETENTION_DAYS = 7
    op = walk_to(submit_retain(bank), S.COMPLETED)
    backdate(op, timezone.now() - timedelta(days=6))
    assert "Deleted 0 terminal operations" in run("prune")
    backdate(op, timezone.now() - timedelta(days=8))
    assert "Deleted 1 terminal operation " in run("prune")
    assert not Operation.objects.filter(pk=op.pk).exists()


def test_prune_rejects_a_malformed_age(db):
    with pytest.raises(CommandError, match="not an age like 30d"):
        run("prune", "--older-than", "soon")


# --- stats ----------------------------------------------------------------------------------------


def test_stats_counts_per_status_and_type_and_the_oldest_pending_age(bank):
    old = submit_retain(bank)
    backdate(old, timezone.now() - timedelta(minutes=5))
    submit_retain(bank)
    walk_to(submit_retain(bank), S.RUNNING)
    walk_to(submit_retain(bank), S.FAILED)
    data = json.loads(run("stats", "--json"))
    assert data["by_status"] == {"pending": 2, "running": 1, "completed": 0, "failed": 1,
                                 "cancelled": 0}
    assert data["by_type"][OperationType.BATCH_RETAIN] == 4
    assert data["running"] == 1
    assert 299 <= data["oldest_pending_age_seconds"] < 400
    out = run("stats")
    assert "Running: 1. Pending: 2 (oldest waiting 5 m" in out
    assert out.splitlines()[-2].split() == ["all", "2", "1", "0", "1", "0", "4"]
