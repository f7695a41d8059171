"""``hindsight retain --files``: files uploaded as documents (``file_retain``), the path as
document id, globs expanded by the CLI itself, one async operation per upload of up to
``HINDSIGHT_MAX_FILES_PER_REQUEST`` files; PDFs and Word files as well as text."""

from __future__ import annotations

import pytest

from banks.models import Memory
from tests.cli.conftest import run_in_pty, status_of
from tests.conftest import wait_idle
from tests.documents import make_docx, make_pdf

pytestmark = pytest.mark.django_db(transaction=True)


def test_async_upload_of_a_250_file_glob_is_one_operation_per_100_files(cli, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(250):
        (docs / f"note-{i:03}.txt").write_text(f"Note {i}: Alice met Bob in Paris.")
    (docs / "skip.md").write_text("not matched by the glob")

    # No shell: the pattern reaches the CLI unexpanded, as a quoted glob would.
    submitted = cli("retain", "demo", "--files", "docs/*.txt", "--async", "--tag", "notes")
    assert submitted.code == 0
    op_ids = submitted.stdout.split()
    assert len(op_ids) == 3
    assert "submitted 3 operation(s) for 250 files" in submitted.stderr

    watched = cli("operations", "watch", "demo", op_ids[0])
    assert watched.code == 0
    assert f"{op_ids[0]} completed 100 / 100 (100%)" in watched.stdout
    wait_idle()

    memories = Memory.objects.filter(operation_id__in=op_ids)
    assert memories.count() == 250
    expected = {f"docs/note-{i:03}.txt" for i in range(250)}
    assert set(memories.values_list("document_id", flat=True)) == expected
    note_7 = memories.get(document_id="docs/note-007.txt")
    assert note_7.content == "Note 7: Alice met Bob in Paris."
    assert note_7.tags == ["notes"]
    assert note_7.metadata["file_name"] == "note-007.txt"
    assert status_of(note_7.operation) == "completed"


def test_pdf_and_word_files_are_uploaded_and_split_into_memories(cli, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "report.pdf").write_bytes(make_pdf(["Alice met Bob in Paris."]))
    (tmp_path / "docs" / "plan.docx").write_bytes(
        make_docx([("Plan", ["Hire two engineers."]), ("Budget", ["Spend less."])]))
    result = cli("retain", "demo", "--files", "docs/*.pdf", "docs/*.docx", "--json")
    assert result.code == 0, result.stderr
    assert len(result.json()["memory_ids"]) == 3
    rows = Memory.objects.order_by("item_index").values_list("document_id", "content")
    assert list(rows)[1:] == [("docs/plan.docx", "# Plan\n\nHire two engineers."),
                              ("docs/plan.docx", "# Budget\n\nSpend less.")]
    assert "Alice met Bob in Paris." in rows[0][1]


def test_async_uploads_recut_to_a_lower_server_file_limit_named_in_the_413(cli, tmp_path,
                                                                          settings):
    settings.HINDSIGHT_MAX_FILES_PER_REQUEST = 4
    for i in range(10):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}")
    result = cli("retain", "demo", "--files", "f*.txt", "--async", "--json")
    assert result.code == 0, result.stderr
    assert [op["total"] for op in result.json()] == [4, 4, 2]


def test_files_per_upload_follow_the_environment_limit(cli, tmp_path):
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}")
    result = cli("retain", "demo", "--files", "f*.txt", "--async", "--json",
                 env={"HINDSIGHT_MAX_FILES_PER_REQUEST": "2"})
    assert [op["total"] for op in result.json()] == [2, 2, 1]


def test_files_given_by_the_shell_and_by_recursive_glob_are_read_once(cli, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / "top.txt").write_text("top")
    (tmp_path / "a" / "b" / "deep.txt").write_text("deep")
    result = cli("retain", "demo", "--files", "top.txt", "**/*.txt", "--json")
    assert result.code == 0
    assert len(result.json()["memory_ids"]) == 2
    assert set(Memory.objects.values_list("document_id", flat=True)) == {"top.txt",
                                                                       "a/b/deep.txt"}


def test_a_file_the_server_cannot_read_is_a_failed_line_and_the_rest_is_stored(cli, tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "fake.pdf").write_bytes(b"not a pdf")
    (tmp_path / "ok.md").write_text("# Fine\n\ntext")
    result = cli("retain", "demo", "--files", "blob.bin", "fake.pdf", "ok.md")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "retained 1 memories in bank demo (2 failed)"
    assert lines[1].startswith("failed: blob.bin: unsupported file type .bin; supported: ")
    assert lines[2] == "failed: fake.pdf: not a PDF file (no %PDF- header)"


def test_a_missing_file_is_one_input_error_line(cli):
    result = cli("retain", "demo", "--files", "nowhere.pdf")
    assert result.code == 5
    assert result.error_line == "error: no such file: nowhere.pdf"


def test_an_upload_shows_a_progress_bar_on_a_terminal_only(cli, live_server, tmp_path):
    for i in range(3):
        (tmp_path / f"big-{i}.md").write_text("Alice met Bob in Paris.\n\n" * 40_000)
    code, screen = run_in_pty(live_server.url, ["retain", "demo", "--files", "big-*.md",
                                                "--async"], tmp_path)
    assert code == 0, screen
    assert "uploading" in screen and "/3 files" in screen and "MB" in screen
    piped = cli("retain", "demo", "--files", "big-*.md", "--async")
    assert "uploading" not in piped.stderr
