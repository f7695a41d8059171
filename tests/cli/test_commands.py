"""Every ``hindsight`` command against a live server: human output, ``--json`` output and exit
codes, including the error lines for 404, 409, 413, 400 and an unreachable server."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from banks.models import Bank, Memory
from operations import transitions
from operations.services import cancel_operation
from tests.cli.conftest import (
    WORKER,
    advance,
    cli_command,
    cli_env,
    run_in_pty,
    running_operation,
    status_of,
)
from tests.conftest import wait_idle
from tests.factories import make_bank, submit_retain
from tests.servers import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quiet_sweeper")]


def finished_operation(bank, n: int = 3):
    op = running_operation(bank, total=n)
    advance(op, n)
    assert transitions.complete(op.pk, WORKER)
    return op


# --- banks -------------------------------------------------------------------------------------


def test_banks_create_list_delete(cli):
    created = cli("banks", "create", "notes", "--name", "My notes")
    assert created.code == 0
    assert created.stdout == "created bank notes (name: My notes)\n"
    again = cli("banks", "create", "notes", "--json")
    assert again.code == 0
    assert again.json()["bank_id"] == "notes"
    assert again.json()["name"] == "My notes"

    listed = cli("banks", "list")
    assert listed.code == 0
    header, row = listed.stdout.splitlines()[:2]
    assert header.split() == ["BANK", "NAME", "MEMORIES", "PENDING", "RUNNING", "CREATED"]
    assert row.split()[:5] == ["notes", "My", "notes", "0", "0"]
    assert [b["bank_id"] for b in cli("banks", "list", "--json").json()] == ["notes"]

    deleted = cli("banks", "delete", "notes")
    assert (deleted.code, deleted.stdout) == (0, "deleted bank notes\n")
    assert not Bank.objects.filter(bank_id="notes").exists()


def test_banks_create_of_an_existing_bank_with_another_name_exits_1_and_names_update(cli):
    assert cli("banks", "create", "notes", "--name", "My notes").code == 0
    again = cli("banks", "create", "notes", "--name", "Notes")
    assert again.code == 1
    assert again.stdout == "bank already exists: notes (name: My notes)\n"
    assert again.error_line == "the name was not changed; rename it with: " \
        "hindsight banks update notes --name Notes"
    assert Bank.objects.get(bank_id="notes").name == "My notes"  # as POST /api/banks/ does
    assert cli("banks", "create", "notes", "--name", "My notes").code == 0  # same name: done

    renamed = cli("banks", "update", "notes", "--name", "Notes")
    assert (renamed.code, renamed.stdout) == (0, "updated bank notes (name: Notes)\n")
    assert Bank.objects.get(bank_id="notes").name == "Notes"


def test_deleting_an_unknown_bank_is_a_404_line(cli):
    result = cli("banks", "delete", "nope")
    assert result.code == 3
    assert result.stdout == ""
    assert result.error_line == "error: 404 not found: Bank 'nope' not found"


# --- retain ------------------------------------------------------------------------------------


def test_retain_text_stores_one_memory_with_context_tags_and_document_id(cli):
    result = cli("retain", "demo", "Alice met Bob in Paris.", "--context", "meeting",
                 "--tag", "people", "--tag", "travel", "--document-id", "doc-1")
    assert result.code == 0
    assert result.stdout == "retained 1 memories in bank demo (0 failed)\n"
    memory = Memory.objects.get(bank__bank_id="demo")
    assert (memory.content, memory.context, memory.document_id) == (
        "Alice met Bob in Paris.", "meeting", "doc-1")
    assert memory.tags == ["people", "travel"]


def test_retain_json_returns_the_memory_ids(cli):
    result = cli("retain", "demo", "-", "--json", stdin="from stdin")
    assert result.code == 0
    body = result.json()
    assert len(body["memory_ids"]) == 1
    assert body["failed_items"] == []
    assert Memory.objects.get(pk=body["memory_ids"][0]).content == "from stdin"


def test_retain_reports_items_the_server_could_not_store(cli, tmp_path):
    (tmp_path / "empty.txt").write_text("   ")
    (tmp_path / "ok.txt").write_text("fine")
    result = cli("retain", "demo", "--files", "empty.txt", "ok.txt")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "retained 1 memories in bank demo (1 failed)"
    assert lines[1].startswith("failed: empty.txt: ")


def test_sync_retain_over_the_guideline_prints_a_hint_to_use_async(cli, tmp_path):
    for i in range(101):
        (tmp_path / f"n{i:03}.txt").write_text(f"note {i}")
    result = cli("retain", "demo", "--files", "n*.txt", "--json")
    assert result.code == 0
    assert len(result.json()["memory_ids"]) == 101
    assert "use --async" in result.stderr
    assert "(100 items / 100 KB)" in result.stderr


def test_small_sync_retain_prints_no_hint(cli):
    result = cli("retain", "demo", "short")
    assert result.code == 0
    assert result.stderr == ""


def test_async_retain_prints_the_operation_id(cli):
    result = cli("retain", "demo", "hello", "--async")
    assert result.code == 0
    op_id = result.stdout.strip()
    assert f"hindsight operations watch demo {op_id}" in result.stderr
    listed = cli("operations", "get", "demo", op_id, "--json").json()
    assert listed["operation_id"] == op_id
    assert listed["total"] == 1


def test_async_retain_halves_batches_over_the_body_limit(cli, tmp_path, settings):
    settings.HINDSIGHT_MAX_BODY_BYTES = 6000
    for i in range(8):
        (tmp_path / f"big{i}.txt").write_text(f"{i} " + "x" * 1000)
    result = cli("retain", "demo", "--files", "big*.txt", "--async", "--json")
    assert result.code == 0
    assert [op["total"] for op in result.json()] == [4, 4]


def test_one_item_over_the_body_limit_is_a_413_line(cli, settings):
    settings.HINDSIGHT_MAX_BODY_BYTES = 2000
    result = cli("retain", "demo", "y" * 3000, "--async")
    assert result.code == 3
    assert "(limit HINDSIGHT_MAX_BODY_BYTES = 2000)" in result.error_line


def test_retain_over_the_content_limit_is_a_413_line_naming_the_limit(cli, settings):
    settings.HINDSIGHT_MAX_CONTENT_BYTES = 10
    result = cli("retain", "demo", "x" * 50)
    assert result.code == 3
    assert result.stdout == ""
    line = result.error_line
    assert line.startswith("error: 413 too large: ")
    assert "(limit HINDSIGHT_MAX_CONTENT_BYTES = 10)" in line


def test_retain_of_a_glob_matching_nothing_is_an_input_error(cli):
    result = cli("retain", "demo", "--files", "missing/*.txt", "--async")
    assert result.code == 5
    assert result.error_line == "error: no file matches 'missing/*.txt'"


# --- operations list / get ---------------------------------------------------------------------


def test_operations_list_filters_and_paginates(cli, demo_bank):
    pending = [submit_retain(demo_bank, 2) for _ in range(3)]
    done = finished_operation(demo_bank)
    table = cli("operations", "list", "demo")
    assert table.code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["OPERATION", "TYPE", "STATUS", "PROGRESS", "FAILED", "CREATED",
                                "ERROR"]
    assert lines[1].split()[:7] == [str(done.pk), "batch_retain", "completed", "3", "/", "3",
                                    "(100%)"]
    assert lines[-1] == "4 of 4 operations in bank demo"

    only_pending = cli("operations", "list", "demo", "--status", "pending", "--json").json()
    assert only_pending["total"] == 3
    assert {op["operation_id"] for op in only_pending["operations"]} == {str(p.pk) for p in pending}

    page = cli("operations", "list", "demo", "--limit", "2", "--offset", "1")
    assert page.stdout.splitlines()[-1] == "2 of 4 operations in bank demo (next page: --offset 3)"
    by_type = cli("operations", "list", "demo", "--type", "graph_update", "--json").json()
    assert by_type["operations"] == []


def test_operations_list_draws_a_table_on_a_terminal(demo_bank, live_server, tmp_path):
    op = finished_operation(demo_bank)
    code, screen = run_in_pty(live_server.url, ["operations", "list", "demo"], tmp_path)
    assert code == 0
    assert "\x1b[" in screen  # styled for a terminal
    assert "─" in screen  # rich's table rule under the header
    assert str(op.pk) in screen
    assert "1 of 1 operations in bank demo" in screen


def test_operations_list_with_an_unknown_status_is_a_400_line(cli, demo_bank):
    result = cli("operations", "list", "demo", "--status", "queued")
    assert result.code == 3
    assert result.error_line.startswith("error: 400 invalid request: status: ")


def test_operations_list_of_an_unknown_bank_is_a_404_line(cli):
    result = cli("operations", "list", "ghost", "--json")
    assert result.code == 3
    assert result.stdout == ""
    assert result.error_line == "error: 404 not found: Bank 'ghost' not found"


def test_operations_get_shows_the_operation(cli, demo_bank):
    op = finished_operation(demo_bank)
    human = cli("operations", "get", "demo", str(op.pk))
    assert human.code == 0
    fields = dict(line.split(None, 1) for line in human.stdout.splitlines())
    assert fields["operation_id"] == str(op.pk)
    assert fields["status"] == "completed"
    assert fields["progress"] == "3 / 3 (100%)"
    body = cli("operations", "get", "demo", str(op.pk), "--json").json()
    assert set(body) >= {"operation_id", "bank_id", "type", "status", "progress", "total",
                         "created_at", "started_at", "completed_at", "error", "result"}


def test_operations_get_of_an_unknown_operation_is_a_404_line(cli, demo_bank):
    other = make_bank("other")
    op = submit_retain(other, 1)
    result = cli("operations", "get", "demo", str(op.pk))
    assert result.code == 3
    assert result.error_line == f"error: 404 not found: Operation {op.pk} not found for bank demo"


# --- cancel / retry ----------------------------------------------------------------------------


def test_cancel_one_pending_operation(cli, demo_bank):
    op = submit_retain(demo_bank, 5)
    result = cli("operations", "cancel", "demo", str(op.pk))
    assert result.code == 0
    assert result.stdout == f"operation {op.pk} cancelled at 0 / 5 (0%)\n"
    assert status_of(op) == "cancelled"
    again = cli("operations", "cancel", "demo", str(op.pk), "--json")
    assert (again.code, again.json()["status"]) == (0, "cancelled")


def test_cancel_of_a_completed_operation_is_a_409_line_with_its_status(cli, demo_bank):
    op = finished_operation(demo_bank)
    result = cli("operations", "cancel", "demo", str(op.pk))
    assert result.code == 3
    assert result.stdout == ""
    assert result.error_line == (
        f"error: 409 conflict: Operation {op.pk} cannot be cancelled: status is 'completed'"
    )  # the status once, not repeated


def test_cancel_all_pending_cancels_exactly_the_pending_ones(cli, demo_bank):
    pending = [submit_retain(demo_bank, 2) for _ in range(3)]
    running = running_operation(demo_bank)
    done = finished_operation(demo_bank)
    elsewhere = submit_retain(make_bank("other"), 2)
    result = cli("operations", "cancel", "demo", "--all-pending")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == ("cancelled 3 pending operation(s) in bank demo "
                        "(0 already finished, 0 not found)")
    assert {line.strip() for line in lines[1:]} == {str(p.pk) for p in pending}
    assert [status_of(p) for p in pending] == ["cancelled"] * 3
    assert status_of(running) == "running"
    assert status_of(done) == "completed"
    assert status_of(elsewhere) == "pending"
    none_left = cli("operations", "cancel", "demo", "--all-pending", "--json")
    assert none_left.json() == {"cancelled": 0, "already_terminal": 0, "not_found": 0,
                                "operation_ids": []}


def test_retry_of_a_cancelled_operation_queues_it_again(cli, demo_bank, settings):
    op = submit_retain(demo_bank, 2)
    cancel_operation(demo_bank, str(op.pk))
    result = cli("operations", "retry", "demo", str(op.pk))
    assert result.code == 0
    # The executor may claim (and finish) it before the answer is serialized.
    assert re.fullmatch(
        rf"operation {op.pk} queued for retry \(now (pending|running|completed) at [0-2] / 2 "
        rf"\(\d+%\)\)\n",
        result.stdout,
    ), result.stdout
    wait_idle()
    assert status_of(op) == "completed"


def test_retry_of_a_running_operation_is_a_409_line(cli, demo_bank):
    op = running_operation(demo_bank)
    result = cli("operations", "retry", "demo", str(op.pk), "--json")
    assert result.code == 3
    assert result.stdout == ""
    assert "409 conflict" in result.error_line
    assert result.error_line.endswith("status is 'running'")


# --- transport errors --------------------------------------------------------------------------




@pytest.mark.parametrize("args", [["banks", "list"], ["operations", "list", "demo", "--json"],
                                  ["retain", "demo", "hi", "--async"]])
def test_unreachable_server_is_one_line_naming_the_url(cli, args):
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("--url", url, *args)
    assert result.code == 4
    assert result.stdout == ""
    line = result.error_line
    assert line.startswith(f"error: cannot reach the Hindsight server at {url} (")
    assert line.endswith("check --url or HINDSIGHT_API_URL")


def test_url_option_after_the_command_overrides_the_environment(cli, live_server):
    result = cli("banks", "list", "--json", "--url", live_server.url,
                 env={"HINDSIGHT_API_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.code == 0
    assert json.loads(result.stdout) == []


# --- recall ------------------------------------------------------------------------------------


def test_recall_prints_memories_ranked_by_relevance(cli):
    assert cli("retain", "demo", "Alice drinks green tea every morning.").code == 0
    assert cli("retain", "demo", "Bob repairs old bicycles.").code == 0
    table = cli("recall", "demo", "green tea", "--limit", "5")
    assert table.code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["SCORE", "MEMORY", "CONTENT"]
    assert "Alice drinks green tea every morning." in lines[1]
    results = cli("recall", "demo", "green tea", "--json").json()
    assert results[0]["content"] == "Alice drinks green tea every morning."
    assert {"memory_id", "content", "score"} <= set(results[0])


def test_recall_in_an_unknown_bank_is_a_404_line(cli):
    result = cli("recall", "ghost", "anything")
    assert result.code == 3
    assert result.error_line.startswith("error: 404 not found: ")


@pytest.mark.parametrize("url", ["localhost:8888", "ftp://example.org", "http://[::1"])
def test_a_malformed_url_is_one_input_error_line(cli, url):
    result = cli("--url", url, "banks", "list")
    assert result.code == 5
    assert result.error_line.startswith(f"error: invalid server URL '{url}': ")


def test_retain_batch_size_option_overrides_the_environments_limit(cli, tmp_path):
    for i in range(10):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}")
    result = cli("retain", "demo", "--files", "f*.txt", "--async", "--json",
                 "--batch-size", "4", env={"HINDSIGHT_MAX_BATCH_ITEMS": "3"})
    assert result.code == 0, result.stderr
    assert [op["total"] for op in result.json()] == [4, 4, 2]


def test_output_into_a_closed_pipe_exits_quietly(live_server, tmp_path):
    # ``hindsight operations list demo | head -0``: the reader is gone before the CLI writes a
    # line. The parent closes its read end at once, so every write the CLI makes hits EPIPE.
    bank = make_bank("demo")
    for _ in range(3):
        submit_retain(bank, 2)
    proc = subprocess.Popen(cli_command("operations", "list", "demo"),
                            env=cli_env(live_server.url), cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    try:
        stderr = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code == 0, stderr
