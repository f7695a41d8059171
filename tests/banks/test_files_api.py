"""``POST /api/banks/{bank_id}/files/``: real files (PDF, DOCX, HTML, Markdown, JSON, CSV)
become memories through one ``file_retain`` operation; bad files are failed items; limits are
413s; the bytes are kept until their file is processed and go with the operation record."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from banks.jobs.file_retain import FileRetainJob
from banks.models import Memory, UploadedFile
from operations import transitions
from operations.maintenance import prune_terminal
from operations.models import Operation, OperationItemFailure
from operations.registry import get_job, register
from operations.states import OperationType
from tests.conftest import wait_idle
from tests.documents import SCRIPT_SECRET, STYLE_SECRET, make_docx, make_html, make_pdf
from tests.factories import make_bank

URL = "/api/banks/docs/files/"


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def post(api, files, **fields):
    return api.post(URL, {"files": files, **fields}, format="multipart")


def wait_terminal(api, operation_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/api/banks/docs/operations/{operation_id}/").json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"operation {operation_id} not terminal in {timeout} s")


@pytest.mark.django_db
def test_each_file_becomes_a_document_split_into_memories_with_its_metadata(api):
    pdf = make_pdf(["Alice met Bob in Paris.", "They talked about the Lyon office."])
    word = make_docx([("Plan", ["Hire two engineers."]), ("Budget", ["Spend less."])])
    html = make_html("Guide", ["Read the <b>manual</b>.", "Then ask."])
    response = post(api, [
        upload("report.pdf", pdf, "application/pdf"), upload("plan.docx", word),
        upload("guide.html", html, "text/html"), upload("notes.md", b"# Notes\n\nfirst\n"),
        upload("data.json", b'{"k": "v"}'), upload("table.csv", b"a,b\n1,2\n"),
    ], context="onboarding", tags=["docs", "q1"], metadata=json.dumps({"team": "core"}))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed" and body["failed_items"] == []
    memories = list(Memory.objects.filter(pk__in=body["memory_ids"]).order_by("item_index"))
    assert [m.document_id for m in memories] == [
        "report.pdf", "plan.docx", "plan.docx", "guide.html", "notes.md", "data.json",
        "table.csv"]
    assert "Alice met Bob in Paris." in memories[0].content
    assert memories[0].metadata == {"team": "core", "file_name": "report.pdf",
                                    "file_type": "pdf", "file_size": str(len(pdf)),
                                    "file_parts": "1", "file_part": "1", "file_pages": "2"}
    assert [m.content for m in memories[1:3]] == ["# Plan\n\nHire two engineers.",
                                                  "# Budget\n\nSpend less."]
    assert memories[3].content == "# Guide\n\nRead the manual.\n\nThen ask."
    everything = " ".join(m.content for m in memories)
    assert SCRIPT_SECRET not in everything and STYLE_SECRET not in everything
    assert {(m.context, tuple(m.tags)) for m in memories} == {("onboarding", ("docs", "q1"))}
    assert not UploadedFile.objects.exists()  # processed files keep no bytes


@pytest.mark.django_db
def test_bad_and_unsupported_files_are_failed_items_and_the_rest_is_stored(api):
    response = post(api, [
        upload("fake.pdf", b"this is not a PDF at all", "application/pdf"),
        upload("ok.txt", b"fine"), upload("setup.exe", b"MZ\x90\x00"),
        upload("empty.txt", b"  \n"), upload("broken.docx", b"PK\x03\x04 nope"),
    ])
    assert response.status_code == 201
    body = response.json()
    assert len(body["memory_ids"]) == 1
    failed = {f["index"]: f["error"] for f in body["failed_items"]}
    assert failed[0] == "fake.pdf: not a PDF file (no %PDF- header)"
    assert failed[2].startswith("setup.exe: unsupported file type .exe; supported: ")
    assert failed[3] == "empty.txt: no text found in the file"
    assert failed[4].startswith("broken.docx: not a DOCX file")
    assert sorted(failed) == [0, 2, 3, 4]
    operation = Operation.objects.get()
    assert (operation.status, operation.progress, operation.total,
            operation.failed_items_count) == ("completed", 5, 5, 4)


@pytest.mark.django_db
def test_per_file_options_give_document_ids_and_override_the_common_ones(api):
    response = post(api, [upload("a.txt", b"alpha"), upload("b.txt", b"beta")], context="c",
                    files_metadata=json.dumps([{"document_id": "doc-a", "tags": ["x"]}, {}]))
    assert response.status_code == 201
    rows = Memory.objects.order_by("item_index").values_list("document_id", "tags", "context")
    assert list(rows) == [("doc-a", ["x"], "c"), ("b.txt", [], "c")]


@pytest.mark.django_db
def test_a_long_file_is_split_under_the_memory_size_cap(api, settings):
    settings.HINDSIGHT_FILE_MEMORY_CHARS = 300
    paragraphs = [f"Paragraph {i}. " + "Alice met Bob in Paris. " * 5 for i in range(30)]
    response = post(api, [upload("long.md", "\n\n".join(paragraphs).encode())])
    memories = Memory.objects.filter(pk__in=response.json()["memory_ids"])
    assert len(memories) > 10
    assert all(len(m.content) <= 300 for m in memories)
    assert {m.metadata["file_parts"] for m in memories} == {str(len(memories))}


@pytest.mark.django_db
def test_too_many_files_is_a_413_naming_the_limit(api, settings):
    settings.HINDSIGHT_MAX_FILES_PER_REQUEST = 2
    response = post(api, [upload(f"{i}.txt", b"x") for i in range(3)])
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_FILES_PER_REQUEST"
    assert not Operation.objects.exists()


@pytest.mark.django_db
def test_djangos_own_file_count_stop_is_the_same_413(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = post(api, [upload(f"{i}.txt", b"x") for i in range(3)])
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_FILES_PER_REQUEST"


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_a_413_and_nothing_is_stored(api, settings):
    settings.HINDSIGHT_MAX_FILE_BYTES = 100
    response = post(api, [upload("small.txt", b"x"), upload("big.txt", b"y" * 101)])
    assert response.status_code == 413
    assert response.json()["limit"] == "HINDSIGHT_MAX_FILE_BYTES"
    assert "big.txt is 101 bytes" in response.json()["detail"]
    assert not Operation.objects.exists() and not UploadedFile.objects.exists()


@pytest.mark.django_db
def test_bad_form_fields_are_400s_with_field_messages(api):
    assert post(api, []).status_code == 400
    mismatch = post(api, [upload("a.txt", b"a")], files_metadata=json.dumps([{}, {}]))
    assert mismatch.status_code == 400 and "files_metadata" in mismatch.json()
    bad_tags = post(api, [upload("a.txt", b"a")],
                    files_metadata=json.dumps([{"tags": "not-a-list"}]))
    assert bad_tags.status_code == 400
    assert bad_tags.json() == {"files": {"0": {"tags": ["Must be a list of strings."]}}}
    assert api.post(URL, {"files": "x"}, format="json").status_code == 415
    assert not Operation.objects.exists()


@pytest.mark.django_db
def test_file_retain_cannot_be_submitted_without_files(api):
    make_bank("docs")
    response = api.post("/api/banks/docs/operations/",
                        {"type": "file_retain", "files": [{"name": "x.txt", "size": 1}]},
                        format="json")
    assert response.status_code == 400
    assert "POST /api/banks/{bank_id}/files/" in response.json()["type"][0]
    assert not Operation.objects.exists()


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_same_upload_and_refuses_other_bytes(api):
    first = api.post(URL, {"files": [upload("a.txt", b"one")], "async": True},
                     format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(URL, {"files": [upload("a.txt", b"one")], "async": True},
                     format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    other = api.post(URL, {"files": [upload("a.txt", b"two")], "async": True},
                     format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
    assert first.json()["operation_id"] == again.json()["operation_id"]
    assert Operation.objects.count() == 1


class GatedFileRetain(FileRetainJob):
    """file_retain that waits at the start of every chunk after the first until released:
    the test sees the committed first file and acts while the second is in flight."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = threading.Event()
        self.chunks = 0

    def prepare_chunk(self, operation, state, start, limit, deadline):
        self.chunks += 1
        if self.chunks > 1:
            self.waiting.set()
            assert self.release.wait(60)
        return super().prepare_chunk(operation, state, start, limit, deadline)


@pytest.fixture
def gated(settings):
    settings.HINDSIGHT_CHUNK_SIZE = 1
    original = get_job(OperationType.FILE_RETAIN)
    job = register(GatedFileRetain())
    yield job
    job.release.set()
    wait_idle()
    register(original)


@pytest.mark.django_db(transaction=True)
def test_progress_counts_files_and_memories_and_cancel_retry_resume(api, gated):
    files = [upload("one.md", b"# A\n\nfirst\n\n# B\n\nsecond"), upload("two.txt", b"two"),
             upload("three.txt", b"three")]
    submitted = post(api, files, **{"async": True})
    assert submitted.status_code == 202
    operation_id = submitted.json()["operation_id"]
    assert gated.waiting.wait(60)

    running = api.get(f"/api/banks/docs/operations/{operation_id}/").json()
    assert (running["status"], running["progress"], running["total"]) == ("running", 1, 3)
    assert running["stage"] == "retaining files: 2 memories"
    # The first file's bytes went with its memories; the others wait for their turn.
    assert sorted(UploadedFile.objects.values_list("index", flat=True)) == [1, 2]

    cancelled = api.post(f"/api/banks/docs/operations/{operation_id}/cancel/").json()
    assert cancelled["status"] == "cancelled"
    gated.release.set()
    wait_idle()
    assert Memory.objects.count() == 2  # the in-flight chunk rolled back
    assert UploadedFile.objects.count() == 2  # kept for a retry

    gated.chunks = 0
    gated.release.clear()
    gated.waiting.clear()
    assert api.post(f"/api/banks/docs/operations/{operation_id}/retry/").status_code == 202
    gated.release.set()
    done = wait_terminal(api, operation_id)
    assert (done["status"], done["progress"], done["result"]["memory_count"]) == (
        "completed", 3, 4)
    contents = list(Memory.objects.order_by("item_index").values_list("item_index", "content"))
    assert contents == [(0, "# A\n\nfirst"), (1, "# B\n\nsecond"), (2, "two"), (3, "three")]
    assert not UploadedFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_or_pruning_a_terminal_operation_deletes_its_unprocessed_bytes(api, gated):
    ids = []
    for _ in range(2):
        gated.chunks = 0
        gated.waiting.clear()
        submitted = post(api, [upload("a.txt", b"a"), upload("b.txt", b"b")],
                         **{"async": True})
        ids.append(submitted.json()["operation_id"])
        assert gated.waiting.wait(60)
        transitions.cancel(ids[-1])
    gated.release.set()
    wait_idle()
    assert UploadedFile.objects.count() == 2

    assert api.delete(f"/api/banks/docs/operations/{ids[0]}/").status_code == 204
    assert list(UploadedFile.objects.values_list("operation_id", flat=True)) == [
        Operation.objects.get().pk]
    assert prune_terminal(older_than=timedelta(0)).total == 1
    assert not UploadedFile.objects.exists()
    assert Memory.objects.count() == 2  # memories stay


@pytest.mark.django_db(transaction=True)
def test_async_upload_runs_on_the_executor_and_lists_as_file_retain(api):
    submitted = post(api, [upload("a.pdf", make_pdf(["Carol visits Rome."]))],
                     **{"async": True})
    assert submitted.status_code == 202
    assert submitted["Location"].endswith(f"/operations/{submitted.json()['operation_id']}/")
    done = wait_terminal(api, submitted.json()["operation_id"])
    assert (done["type"], done["status"], done["stage"]) == ("file_retain", "completed", "done")
    listed = api.get("/api/banks/docs/operations/", {"type": "file_retain"}).json()
    assert [op["result"] for op in listed["operations"]] == [
        {"memory_count": 1, "files_count": 1, "failed_items_count": 0}]
    assert not OperationItemFailure.objects.exists()


@pytest.mark.django_db
def test_the_file_limit_not_the_retain_item_limit_bounds_an_upload(api, settings):
    settings.HINDSIGHT_MAX_BATCH_ITEMS = 2
    response = post(api, [upload(f"{i}.txt", b"x") for i in range(5)])
    assert response.status_code == 201
    assert len(response.json()["memory_ids"]) == 5
