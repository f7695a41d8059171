"""Banks, version and stats through the official client: ``get_version``, ``create_bank`` (PUT
upsert), ``banks.list_banks``, ``banks.update_bank``, ``banks.get_agent_stats``,
``delete_bank``."""

from __future__ import annotations

import json
import time

import pytest
from hindsight_client_api.exceptions import ApiException
from hindsight_client_api.models.create_bank_request import CreateBankRequest

from banks.models import Bank, Memory, MemoryLink
from hindsight_project import health as health_module
from operations.models import Operation
from operations.states import OperationType
from operations.submission import submit
from tests.compat.conftest import op_status, run, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FEATURES = ("observations", "mcp", "worker", "bank_config_api", "bank_llm_health",
            "file_upload_api", "document_export_api", "document_import_api", "audit_log",
            "llm_trace", "store_document_text")


def test_get_version_reports_api_version_and_every_feature_flag(hindsight, settings):
    version = hindsight.get_version()
    assert version.api_version == settings.HINDSIGHT_VERSION
    flags = version.features.to_dict()
    assert set(flags) == set(FEATURES)
    assert flags["worker"] is True
    assert flags["mcp"] is False


def test_create_bank_creates_with_defaults_then_updates_in_place(hindsight):
    created = hindsight.create_bank("demo")
    assert (created.bank_id, created.name, created.mission) == ("demo", "demo", "")
    assert created.disposition.skepticism == 3

    updated = hindsight.create_bank("demo", name="Demo bank", mission="remember tea")
    assert (updated.name, updated.mission) == ("Demo bank", "remember tea")
    assert Bank.objects.filter(bank_id="demo").count() == 1
    assert Bank.objects.get(bank_id="demo").mission == "remember tea"


@pytest.mark.parametrize("alias", ["reflect_mission", "background"])
def test_create_bank_takes_mission_from_its_upstream_aliases(hindsight, alias):
    profile = hindsight.create_bank("aliased", **{alias: "be helpful"})
    assert profile.mission == "be helpful"
    assert Bank.objects.get(bank_id="aliased").mission == "be helpful"


def test_list_banks_pages_and_filters_by_substring(hindsight):
    for bank_id in ("alpha", "beta", "gamma", "alphabet"):
        hindsight.create_bank(bank_id)
    hindsight.retain("alpha", "Alice likes tea")

    everything = run(hindsight.banks.list_banks())
    assert [b.bank_id for b in everything.banks] == ["alpha", "alphabet", "beta", "gamma"]
    assert everything.total == 4
    assert everything.banks[0].fact_count == 1
    assert everything.banks[0].last_write_at is not None

    page = run(hindsight.banks.list_banks(limit=2, offset=1))
    assert ([b.bank_id for b in page.banks], page.total, page.limit, page.offset) == (
        ["alphabet", "beta"], 4, 2, 1)

    found = run(hindsight.banks.list_banks(q="ALPH"))
    assert [b.bank_id for b in found.banks] == ["alpha", "alphabet"]


def test_update_bank_changes_an_existing_bank(hindsight):
    hindsight.create_bank("demo")
    profile = run(hindsight.banks.update_bank(
        "demo", CreateBankRequest(name="Renamed", mission="new mission")))
    assert (profile.name, profile.mission) == ("Renamed", "new mission")
    assert Bank.objects.get(bank_id="demo").name == "Renamed"


def test_update_bank_of_unknown_bank_is_404(hindsight):
    with pytest.raises(ApiException) as caught:
        run(hindsight.banks.update_bank("nobody", CreateBankRequest(name="x")))
    assert caught.value.status == 404
    assert json.loads(caught.value.body) == {"detail": "Bank 'nobody' not found"}
    assert not Bank.objects.filter(bank_id="nobody").exists()


def test_agent_stats_count_memories_documents_and_operations(hindsight):
    hindsight.retain_batch("demo", [
        {"content": "Alice likes tea", "document_id": "d1"},
        {"content": "Bob likes coffee", "document_id": "d2"},
        {"content": "Carol likes water", "document_id": "d2"},
    ])
    stats = run(hindsight.banks.get_agent_stats("demo"))
    assert (stats.bank_id, stats.total_nodes, stats.total_documents) == ("demo", 3, 2)
    assert stats.nodes_by_fact_type == {"world": 3}
    assert (stats.pending_operations, stats.failed_operations) == (0, 0)
    assert stats.operations_by_status["completed"] == 1
    assert "running" not in stats.operations_by_status


def test_agent_stats_of_unknown_bank_is_404(hindsight):
    with pytest.raises(ApiException) as caught:
        run(hindsight.banks.get_agent_stats("nobody"))
    assert caught.value.status == 404
    assert json.loads(caught.value.body) == {"detail": "Bank 'nobody' not found"}


def test_delete_bank_removes_its_memories_and_operations(hindsight):
    hindsight.retain_batch("demo", [{"content": f"fact {i}"} for i in range(5)])
    hindsight.retain("other", "kept")

    answer = hindsight.delete_bank("demo")
    assert (answer.success, answer.deleted_count) == (True, 5)
    assert not Bank.objects.filter(bank_id="demo").exists()
    assert Memory.objects.count() == 1
    assert Operation.objects.filter(bank__bank_id="demo").count() == 0


def test_delete_of_unknown_bank_succeeds_with_nothing_deleted(hindsight):
    answer = hindsight.delete_bank("nobody")
    assert (answer.success, answer.deleted_count) == (True, 0)


def test_bank_id_with_a_slash_round_trips_through_every_route(hindsight):
    bank_id = "team/alice"
    assert hindsight.create_bank(bank_id).bank_id == bank_id
    retained = hindsight.retain_batch(bank_id, [{"content": "Alice likes tea"}],
                                      retain_async=True)
    assert retained.bank_id == bank_id
    wait_for(lambda: op_status(hindsight, bank_id, retained.operation_id).status == "completed")
    listed = run(hindsight.operations.list_operations(bank_id))
    assert (listed.bank_id, listed.total) == (bank_id, 1)
    assert hindsight.recall(bank_id, "tea").results[0].text == "Alice likes tea"
    assert hindsight.list_memories(bank_id).total == 1
    assert run(hindsight.banks.get_agent_stats(bank_id)).total_nodes == 1
    assert [b.bank_id for b in run(hindsight.banks.list_banks()).banks] == [bank_id]
    assert hindsight.delete_bank(bank_id).deleted_count == 1
    assert not Bank.objects.exists()


def test_agent_stats_count_the_links_graph_update_wrote(hindsight):
    hindsight.retain_batch("demo", [{"content": "Alice met Bob"}, {"content": "Bob met Alice"},
                                    {"content": "Carol stayed home"}])
    op = submit(Bank.objects.get(bank_id="demo"), OperationType.GRAPH_UPDATE, {}).operation
    wait_for(lambda: op_status(hindsight, "demo", str(op.pk)).status == "completed")
    stats = run(hindsight.banks.get_agent_stats("demo"))
    links = MemoryLink.objects.filter(bank__bank_id="demo").count()
    assert links > 0
    assert (stats.total_links, stats.links_by_link_type) == (links, {"entity": links})


def test_liveness_and_health_through_the_client(hindsight, settings):
    # The live server runs in this process: its uptime is measured from the same start.
    before = time.monotonic() - health_module.STARTED
    live = run(hindsight.monitoring.get_liveness())
    after = time.monotonic() - health_module.STARTED
    assert (live.status, live.version) == ("alive", settings.HINDSIGHT_VERSION)
    assert before - 0.001 <= live.uptime_seconds <= after + 0.001
    health = run(hindsight.monitoring.health_endpoint_health_get())
    assert (health["status"], health["database"]) == ("healthy", "connected")
