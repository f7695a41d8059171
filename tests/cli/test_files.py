"""``hindsight retain --files``: one item per file, the path as document id, globs expanded
by the CLI itself, one async operation per batch."""

from __future__ import annotations

import pytest

from banks.models import Memory
from tests.cli.conftest import status_of
from tests.conftest import wait_idle

pytestmark = pytest.mark.django_db(transaction=True)


def test_async_retain_of_a_250_file_glob_is_one_operation_carrying_the_paths(cli, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(250):
        (docs / f"note-{i:03}.txt").write_text(f"Note {i}: Alice met Bob in Paris.")
    (docs / "skip.md").write_text("not matched by the glob")

    # No shell: the pattern reaches the CLI unexpanded, as a quoted glob would.
    submitted = cli("retain", "demo", "--files", "docs/*.txt", "--async", "--tag", "notes")
    assert submitted.code == 0
    [op_id] = submitted.stdout.split()
    assert "submitted 1 operation(s) for 250 items" in submitted.stderr

    watched = cli("operations", "watch", "demo", op_id)
    assert watched.code == 0
    assert f"{op_id} completed 250 / 250 (100%)" in watched.stdout
    wait_idle()

    memories = Memory.objects.filter(operation_id=op_id)
    assert memories.count() == 250
    expected = {f"docs/note-{i:03}.txt" for i in range(250)}
    assert set(memories.values_list("document_id", flat=True)) == expected
    note_7 = memories.get(document_id="docs/note-007.txt")
    assert note_7.content == "Note 7: Alice met Bob in Paris."
    assert note_7.tags == ["notes"]
    assert status_of(note_7.operation) == "completed"


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


def test_a_file_that_is_not_text_is_one_error_line(cli, tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    result = cli("retain", "demo", "--files", "blob.bin")
    assert result.code == 5
    assert result.error_line == "error: blob.bin is not UTF-8 text"
