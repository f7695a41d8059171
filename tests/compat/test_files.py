"""``client.retain_files(...)`` of the unchanged official client (``hindsight-client==1.1.0``)
against ``POST /v1/default/banks/{bank_id}/files/retain``: the multipart request it builds, the
``FileRetainResponse`` it parses, and the operation it then follows."""

from __future__ import annotations

import pytest
from hindsight_client_api.exceptions import ApiException

from banks.models import Memory
from operations.models import Operation
from tests.compat.conftest import op_status, run, wait_for
from tests.documents import SCRIPT_SECRET, make_docx, make_html, make_pdf

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def documents(tmp_path):
    paths = {
        "report.pdf": make_pdf(["Alice met Bob in Paris.", "Second page about Lyon."]),
        "plan.docx": make_docx([("Plan", ["Hire two engineers."])]),
        "guide.html": make_html("Guide", ["Read the manual."]),
        "fake.pdf": b"not a pdf",
    }
    for name, data in paths.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in paths]


def finished(hindsight, bank_id: str, operation_id: str):
    return wait_for(lambda: (s := op_status(hindsight, bank_id, operation_id)).status in (
        "completed", "failed", "cancelled") and s)


def test_retain_files_answers_one_operation_that_the_client_follows(hindsight, documents):
    answer = hindsight.retain_files("docs", documents, context="handbook")
    assert len(answer.operation_ids) == 1
    status = finished(hindsight, "docs", answer.operation_ids[0])
    assert (status.status, status.operation_type) == ("completed", "file_convert_retain")
    assert status.result_metadata["items_count"] == 4
    assert status.result_metadata["failed_items"] == [
        {"index": 3, "error": "fake.pdf: not a PDF file (no %PDF- header)"}]
    memories = Memory.objects.order_by("item_index")
    assert [m.document_id for m in memories] == ["report.pdf", "plan.docx", "guide.html"]
    assert {m.context for m in memories} == {"handbook"}
    assert "Alice met Bob in Paris." in memories[0].content
    assert all(SCRIPT_SECRET not in m.content for m in memories)


def test_version_announces_the_file_upload_api(hindsight):
    assert hindsight.get_version().features.file_upload_api is True


def test_files_metadata_entries_apply_per_file(hindsight, documents):
    answer = hindsight.retain_files("docs", documents[:2], files_metadata=[
        {"document_id": "q1-report", "tags": ["finance"], "metadata": {"owner": "ann"}},
        {"context": "planning", "parser": ["markitdown"]},
    ])
    finished(hindsight, "docs", answer.operation_ids[0])
    report = Memory.objects.get(document_id="q1-report")
    assert report.tags == ["finance"] and report.metadata["owner"] == "ann"
    assert report.metadata["file_name"] == "report.pdf"
    assert Memory.objects.get(document_id="plan.docx").context == "planning"


def test_the_operation_lists_under_its_upstream_type_name(hindsight, documents):
    answer = hindsight.retain_files("docs", documents[:1])
    finished(hindsight, "docs", answer.operation_ids[0])
    listed = run(hindsight.operations.list_operations("docs", type="file_convert_retain"))
    assert [op.id for op in listed.operations] == answer.operation_ids
    none = run(hindsight.operations.list_operations("docs", type="batch_retain"))
    assert none.operations == []


def test_a_metadata_list_of_the_wrong_length_is_a_422(hindsight, documents):
    with pytest.raises(ApiException) as caught:
        hindsight.retain_files("docs", documents[:2], files_metadata=[{}])
    assert caught.value.status == 422
    assert '"loc":["body","files_metadata"]' in caught.value.body.replace(" ", "")
    assert not Operation.objects.exists()


def test_too_many_files_is_a_413_with_the_limit_named(hindsight, documents, settings):
    settings.HINDSIGHT_MAX_FILES_PER_REQUEST = 2
    with pytest.raises(ApiException) as caught:
        hindsight.retain_files("docs", documents)
    assert caught.value.status == 413
    assert "HINDSIGHT_MAX_FILES_PER_REQUEST (2)" in caught.value.body


def test_a_multipart_body_without_files_is_a_422_locating_the_field(live_server):
    import httpx

    response = httpx.post(f"{live_server.url}/v1/default/banks/docs/files/retain",
                          data={"request": "{}"}, files={"other": ("a.txt", b"a")})
    assert response.status_code == 422
    assert response.json() == {"detail": [
        {"type": "missing", "loc": ["body", "files"], "msg": "Field required"}]}
    bad_json = httpx.post(f"{live_server.url}/v1/default/banks/docs/files/retain",
                          data={"request": "{oops"}, files={"files": ("a.txt", b"a")})
    assert bad_json.status_code == 422
    assert bad_json.json()["detail"][0]["type"] == "json_invalid"
