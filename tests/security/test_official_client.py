"""The official ``hindsight-client`` against a live server with keys: its ``api_key`` (sent as
``Authorization: Bearer``) is what lets it in; without it 401, with a key scoped to another
bank 404 for everything of that bank (never 403, never data)."""

from __future__ import annotations

import pytest
from hindsight_client import Hindsight
from hindsight_client_api.exceptions import ApiException

from banks.apikeys import create_key
from banks.models import Memory
from operations.models import Operation
from tests.compat.conftest import run
from tests.factories import make_bank, submit_retain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server):
    beta = make_bank("beta-secret")
    Memory.objects.create(bank=beta, content="beta private tea notes")
    return {"url": live_server.url, "beta_op": str(submit_retain(beta, 2).pk),
            "key_a": create_key("tenant-a", ["alpha"]).key}


def status_of(call) -> int:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status


def test_client_without_api_key_gets_401(server):
    client = Hindsight(base_url=server["url"], timeout=30)
    try:
        assert status_of(lambda: client.retain("alpha", "Alice likes tea")) == 401
        assert status_of(lambda: client.recall("alpha", "tea")) == 401
        assert status_of(lambda: run(client.banks.list_banks())) == 401
    finally:
        client.close()


def test_client_with_wrong_api_key_gets_401(server):
    client = Hindsight(base_url=server["url"], api_key=server["key_a"][:-3] + "xyz", timeout=30)
    try:
        assert status_of(lambda: client.recall("alpha", "tea")) == 401
    finally:
        client.close()


def test_scoped_api_key_works_on_its_bank_and_gets_404_on_another(server):
    client = Hindsight(base_url=server["url"], api_key=server["key_a"], timeout=30)
    try:
        assert client.retain("alpha", "Alice likes tea").success
        hits = client.recall("alpha", "tea").results
        assert [hit.text for hit in hits] == ["Alice likes tea"]
        banks = run(client.banks.list_banks())
        assert [bank.bank_id for bank in banks.banks] == ["alpha"]

        assert status_of(lambda: client.recall("beta-secret", "tea")) == 404
        assert status_of(lambda: client.list_memories("beta-secret")) == 404
        assert status_of(lambda: run(client.operations.list_operations("beta-secret"))) == 404
        assert status_of(lambda: run(client.operations.get_operation_status(
            "beta-secret", server["beta_op"]))) == 404
        assert status_of(lambda: run(client.operations.cancel_operation(
            "beta-secret", server["beta_op"]))) == 404
        assert status_of(lambda: client.retain("beta-secret", "intruder")) == 404
        # An operation of bank B named under the key's own bank is simply not there.
        status = run(client.operations.get_operation_status("alpha", server["beta_op"]))
        assert status.status == "not_found"
    finally:
        client.close()
    assert Operation.objects.get(pk=server["beta_op"]).status == "pending"
    assert Memory.objects.filter(bank__bank_id="beta-secret").count() == 1
