"""The client's ``api_key`` is what lets it in: the compatible views use the project's real API-key
authentication (``hindsight_project.auth``) and ``banks.access``, so once a key exists a missing
or unknown key is 401 and a bank outside the key's scope is 404 on every route."""

from __future__ import annotations

import json

import pytest
from aiohttp import ClientResponseError
from hindsight_client import Hindsight
from hindsight_client_api.exceptions import ApiException

from banks.apikeys import create_key
from banks.models import Bank
from tests.compat.conftest import run
from tests.factories import make_bank, submit_retain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scoped_keys(settings) -> dict:
    # Real keys through the production authentication classes: creating a key is what turns
    # authentication on (no setting, no stand-in).
    settings.HINDSIGHT_DISPATCH_GRACE = 3600
    make_bank("alpha")
    secret = make_bank("beta")
    return {"op": submit_retain(secret, 3),
            "key_alpha": create_key("tenant-alpha", ["alpha"]).key,
            "key_all": create_key("operator").key}


@pytest.fixture
def client_for(live_server):
    clients = []

    def build(key: str | None) -> Hindsight:
        clients.append(Hindsight(base_url=live_server.url, api_key=key))
        return clients[-1]

    yield build
    for client in clients:
        client.close()


def status_of(call) -> int:
    # create_bank goes through aiohttp directly in the client; the rest through its ApiClient.
    with pytest.raises((ApiException, ClientResponseError)) as caught:
        call()
    return caught.value.status


def test_without_a_key_every_call_is_401(scoped_keys, client_for):
    anonymous = client_for(None)
    assert status_of(lambda: run(anonymous.banks.list_banks())) == 401
    assert status_of(lambda: anonymous.create_bank("alpha")) == 401
    assert status_of(lambda: anonymous.retain("alpha", "Alice likes tea")) == 401
    assert status_of(lambda: anonymous.recall("alpha", "tea")) == 401
    assert status_of(lambda: run(anonymous.operations.list_operations("alpha"))) == 401


def test_an_invalid_key_is_401(scoped_keys, client_for):
    forged = scoped_keys["key_alpha"][:-3] + "xyz"
    assert status_of(lambda: client_for(forged).list_memories("alpha")) == 401
    assert status_of(lambda: client_for("nope").list_memories("alpha")) == 401


def test_an_all_bank_key_sees_every_bank(scoped_keys, client_for):
    client = client_for(scoped_keys["key_all"])
    assert sorted(b.bank_id for b in run(client.banks.list_banks()).banks) == ["alpha", "beta"]
    assert client.recall("beta", "tea").results is not None


def test_a_scoped_key_works_on_its_bank(scoped_keys, client_for):
    client = client_for(scoped_keys["key_alpha"])
    assert client.retain("alpha", "Alice likes tea").success
    assert client.recall("alpha", "tea").results[0].text == "Alice likes tea"
    assert [b.bank_id for b in run(client.banks.list_banks()).banks] == ["alpha"]


def test_a_bank_outside_the_keys_scope_is_404_on_every_route(scoped_keys, client_for):
    client = client_for(scoped_keys["key_alpha"])
    op_id = str(scoped_keys["op"].pk)
    calls = {
        "upsert_bank": lambda: client.create_bank("beta", mission="x"),
        "create_bank": lambda: client.create_bank("gamma"),
        "delete_bank": lambda: client.delete_bank("beta"),
        "stats": lambda: run(client.banks.get_agent_stats("beta")),
        "retain": lambda: client.retain("beta", "sneaky"),
        "recall": lambda: client.recall("beta", "tea"),
        "list_memories": lambda: client.list_memories("beta"),
        "list_operations": lambda: run(client.operations.list_operations("beta")),
        "get_operation": lambda: run(client.operations.get_operation_status("beta", op_id)),
        "cancel": lambda: run(client.operations.cancel_operation("beta", op_id)),
        "retry": lambda: run(client.operations.retry_operation("beta", op_id)),
        "delete_operation": lambda: run(client.operations.delete_operation("beta", op_id)),
    }
    statuses = {name: status_of(call) for name, call in calls.items()}
    assert statuses == dict.fromkeys(calls, 404)
    assert set(Bank.objects.values_list("bank_id", flat=True)) == {"alpha", "beta"}
    assert Bank.objects.get(bank_id="beta").mission == ""


def test_the_404_for_a_bank_out_of_scope_reads_like_an_unknown_bank(scoped_keys, client_for):
    with pytest.raises(ApiException) as caught:
        client_for(scoped_keys["key_alpha"]).list_memories("beta")
    assert json.loads(caught.value.body) == {"detail": "Bank 'beta' not found"}
