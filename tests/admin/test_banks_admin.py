"""Banks and memories in the admin: counts, the bulk cancel of a bank's active operations,
edits and deletes through banks.services, and the read-only memories list."""

from __future__ import annotations

import pytest

from banks.models import Bank, Memory
from operations.models import Operation
from operations.states import OperationStatus
from tests.admin.actions import messages_of, post_action
from tests.conftest import wait_idle
from tests.factories import submit_retain
from tests.lifecycle import status_of, walk_to

S = OperationStatus
pytestmark = pytest.mark.django_db
BANKS = "/admin/banks/bank/"
MEMORIES = "/admin/banks/memory/"


def test_bank_list_shows_memory_count_and_operation_counts_by_status(admin_client, bank):
    Memory.objects.bulk_create([Memory(bank=bank, content=f"m{i}") for i in range(3)])
    submit_retain(bank)
    submit_retain(bank)
    walk_to(submit_retain(bank), S.FAILED)
    body = admin_client.get(BANKS).content.decode()
    assert f'<a href="/admin/banks/memory/?bank__id__exact={bank.pk}">3</a>' in body
    assert '<span class="hs-badge hs-badge--pending">Pending</span> 2' in body
    assert '<span class="hs-badge hs-badge--failed">Failed</span> 1' in body


def test_cancel_bank_operations_confirms_then_cancels_only_the_selected_banks(
    admin_client, bank, other_bank
):
    pending = submit_retain(bank)
    running = walk_to(submit_retain(bank), S.RUNNING)
    done = walk_to(submit_retain(bank), S.COMPLETED)
    elsewhere = submit_retain(other_bank)
    page = post_action(admin_client, "cancel_bank_operations", [bank.pk], url=BANKS)
    assert "<strong>1 pending</strong> and <strong>1 running</strong>" in page.content.decode()
    assert status_of(pending) == S.PENDING
    response = post_action(admin_client, "cancel_bank_operations", [bank.pk], url=BANKS,
                           confirm=True)
    assert messages_of(response) == ["Cancelled 2 operations in 1 bank."]
    assert (status_of(pending), status_of(running), status_of(done)) == (
        S.CANCELLED, S.CANCELLED, S.COMPLETED)
    assert status_of(elsewhere) == S.PENDING


def test_bank_edit_changes_name_and_mission_but_not_the_id(admin_client, bank):
    response = admin_client.post(f"{BANKS}{bank.pk}/change/",
                                 {"bank_id": "hijack", "name": "Alpha team", "mission": "m"})
    assert response.status_code == 302
    bank.refresh_from_db()
    assert (bank.bank_id, bank.name, bank.mission) == ("alpha", "Alpha team", "m")


def test_bank_delete_page_summarises_instead_of_listing_every_memory(admin_client, bank):
    Memory.objects.bulk_create(
        [Memory(bank=bank, content=f"remembered thing {i}") for i in range(5)])
    body = admin_client.get(f"{BANKS}{bank.pk}/delete/").content.decode()
    assert "alpha: 5 memories and 0 operations" in body
    assert "remembered thing" not in body


@pytest.mark.django_db(transaction=True)
def test_bank_delete_cancels_its_running_operation_and_the_worker_stops_writing(
        admin_client, bank, gated_chunks, caplog):
    caplog.set_level("INFO", logger="operations.runner")
    op = submit_retain(bank, 50, dispatch=True)
    assert gated_chunks.preparing.wait(60)  # running: chunk 1 committed, chunk 2 next
    assert status_of(op) == S.RUNNING
    assert Memory.objects.filter(bank=bank).count() == gated_chunks.gated_at > 0
    response = admin_client.post(f"{BANKS}{bank.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    gated_chunks.gate.set()
    assert gated_chunks.released.wait(60)
    wait_idle()
    assert not Bank.objects.filter(pk=bank.pk).exists()
    assert not Operation.objects.exists() and not Memory.objects.exists()
    # The worker saw the cancel and stopped; it did not crash into the vanished bank.
    runner_logs = [r for r in caplog.records if r.name == "operations.runner"]
    assert [r.levelname for r in runner_logs if r.levelno >= 30] == []
    assert any("stopped at" in r.getMessage() for r in runner_logs)


def test_banks_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(f"{BANKS}add/").status_code == 403


def test_memories_are_read_only_searchable_and_filter_by_bank_and_document(
    admin_client, bank, other_bank
):
    Memory.objects.create(bank=bank, content="Alice likes tea", document_id="doc-1")
    Memory.objects.create(bank=bank, content="Bob likes coffee", document_id="doc-2")
    Memory.objects.create(bank=other_bank, content="Carol likes tea", document_id="doc-1")
    body = admin_client.get(MEMORIES, {"q": "tea"}).content.decode()
    assert "Alice likes tea" in body and "Carol likes tea" in body and "Bob" not in body
    body = admin_client.get(MEMORIES, {"bank__id__exact": bank.pk,
                                       "document_id": "doc-1"}).content.decode()
    assert "Alice likes tea" in body and "Carol" not in body and "Bob" not in body
    # The document filter is a text box that keeps the other filters.
    assert f'<input type="hidden" name="bank__id__exact" value="{bank.pk}">' in body
    memory = Memory.objects.get(content="Bob likes coffee")
    page = admin_client.get(f"{MEMORIES}{memory.pk}/change/").content.decode()
    assert "View memory" in page and 'name="content"' not in page
    assert admin_client.get(f"{MEMORIES}add/").status_code == 403
    assert admin_client.post(f"{MEMORIES}{memory.pk}/delete/", {"post": "yes"}).status_code == 403


def test_operation_page_links_to_its_memories(admin_client, bank):
    op = walk_to(submit_retain(bank, 2), S.COMPLETED)
    Memory.objects.create(bank=bank, content="from the op", operation=op, item_index=0)
    Memory.objects.create(bank=bank, content="unrelated")
    page = admin_client.get(f"/admin/operations/operation/{op.pk}/change/").content.decode()
    link = f"/admin/banks/memory/?operation__id__exact={op.pk}"
    assert link in page
    body = admin_client.get(link).content.decode()
    assert "from the op" in body and "unrelated" not in body



def test_the_admin_index_says_memories_not_memorys(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert ">Memories<" in page and "Memorys" not in page
