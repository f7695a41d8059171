"""Uploaded files on both ways to run: the bytes are in the database, so an RQ worker process
(over PostgreSQL) extracts them exactly as the embedded executor's threads (over SQLite) do."""

from __future__ import annotations

import pytest

from tests.documents import make_docx, make_pdf
from tests.scale.stack import Stack

pytestmark = pytest.mark.slow


def upload(stack: Stack, bank_id: str, files: dict[str, bytes]) -> dict:
    response = stack.client.post(
        f"/api/banks/{bank_id}/files/", data={"async": "true", "tags": ["handbook"]},
        files=[("files", (name, data)) for name, data in files.items()])
    assert response.status_code == 202, response.text
    return response.json()


def test_uploaded_documents_become_memories_on_either_executor(any_stack, bank_id):
    files = {f"note-{i}.md": f"# Note {i}\n\nAlice met Bob, day {i}.".encode() for i in range(40)}
    files["report.pdf"] = make_pdf(["Carol visits Rome.", "Dave stays in Oslo."])
    files["plan.docx"] = make_docx([("Plan", ["Hire two engineers."])])
    files["fake.docx"] = b"not a zip"
    op = upload(any_stack, bank_id, files)
    assert (op["type"], op["status"], op["total"]) == ("file_retain", "pending", 43)
    done = any_stack.wait_status(bank_id, op["operation_id"], {"completed", "failed"})
    assert (done["status"], done["progress"], done["failed_items_count"]) == ("completed", 43, 1)
    assert done["result"]["failed_items"][0]["error"].startswith("fake.docx: not a DOCX file")
    assert any_stack.memory_count(bank_id) == done["result"]["memory_count"] == 42
    found = any_stack.client.get(f"/api/banks/{bank_id}/memories/",
                                 params={"document_id": "report.pdf"}).json()["memories"]
    assert "Carol visits Rome." in found[0]["content"] and found[0]["tags"] == ["handbook"]
