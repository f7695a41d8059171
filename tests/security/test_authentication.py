"""Bearer keys on the API: when they are required, what a missing/invalid/revoked key gets."""

from __future__ import annotations

import pytest

from banks.apikeys import create_key, revoke_key
from tests.security.conftest import client_with

pytestmark = pytest.mark.django_db


class TestWhenRequired:
    def test_open_when_no_key_exists(self, api, bank):
        assert api.get("/api/banks/").status_code == 200

    def test_missing_key_is_401_with_bearer_challenge_once_a_key_exists(self, api, bank, key_a):
        response = api.get("/api/banks/alpha/operations/")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"

    def test_require_auth_setting_closes_the_api_without_any_key(self, api, bank, settings):
        settings.HINDSIGHT_REQUIRE_AUTH = True
        assert api.get("/api/banks/").status_code == 401
        assert api.post("/api/banks/alpha/memories/", {"contents": [{"content": "x"}]},
                        format="json").status_code == 401

    def test_revoking_the_last_key_reopens_the_api(self, api, bank):
        issued = create_key("only")
        assert api.get("/api/banks/").status_code == 401
        revoke_key(issued.api_key.prefix)
        assert api.get("/api/banks/").status_code == 200

    def test_compatible_surface_requires_the_key_too(self, api, bank, key_a):
        response = api.get("/v1/default/banks")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert client_with(key_a).get("/v1/default/banks").status_code == 200

    def test_health_and_version_stay_public(self, api, key_a):
        assert api.get("/health/live").status_code == 200
        assert api.get("/version").status_code == 200


class TestInvalidKeys:
    @pytest.mark.parametrize("header", [
        "Bearer hs_00000000_nope", "Bearer not-a-key", "Bearer", "Bearer a b",
    ])
    def test_invalid_key_is_401_even_when_the_api_is_open(self, api, bank, header):
        api.credentials(HTTP_AUTHORIZATION=header)
        assert api.get("/api/banks/").status_code == 401

    def test_revoked_key_is_401(self, bank, key_all):
        client = client_with(key_all)
        assert client.get("/api/banks/").status_code == 200
        revoke_key(key_all)
        assert client.get("/api/banks/").status_code == 401

    def test_non_bearer_scheme_counts_as_no_key(self, api, bank, key_a):
        api.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
        assert api.get("/api/banks/").status_code == 401

    @pytest.mark.parametrize("path", ["/api/banks/", "/api/banks/alpha/operations/"])
    def test_rejected_key_is_logged_as_a_warning_by_prefix_never_with_its_secret(
            self, api, bank, key_a, caplog, path):
        # The second path is a hot read, whose plain admission sees the key before DRF: still
        # one line.
        secret = key_a.split("_", 2)[2]
        prefix = key_a.split("_")[1]
        api.credentials(HTTP_AUTHORIZATION=f"Bearer hs_{prefix}_{secret[::-1]}")
        with caplog.at_level("DEBUG"):
            assert api.get(path).status_code == 401
        warnings = [r.getMessage() for r in caplog.records
                    if r.name == "hindsight_project.auth" and r.levelname == "WARNING"]
        assert warnings == [f"rejected API key (prefix {prefix})"]
        assert secret[::-1] not in caplog.text and secret not in caplog.text


class TestScopedKeys:
    def test_scoped_key_lists_only_its_banks(self, api_a, bank, other_bank):
        body = api_a.get("/api/banks/").json()
        assert [b["bank_id"] for b in body["banks"]] == ["alpha"]

    def test_scoped_key_gets_404_not_403_for_another_bank(self, api_a, bank, other_bank):
        assert api_a.get("/api/banks/beta/").status_code == 404
        assert api_a.get("/api/banks/alpha/").status_code == 200

    def test_scoped_key_may_create_its_own_bank_on_first_retain_but_no_other(self, api_a, db):
        body = {"contents": [{"content": "hello"}], "async": True}
        assert api_a.post("/api/banks/alpha/memories/", body, format="json").status_code == 202
        assert api_a.post("/api/banks/gamma/memories/", body, format="json").status_code == 404
        assert api_a.post("/api/banks/", {"bank_id": "gamma"}, format="json").status_code == 404

    def test_all_banks_key_sees_every_bank(self, api_all, bank, other_bank):
        body = api_all.get("/api/banks/").json()
        assert {b["bank_id"] for b in body["banks"]} == {"alpha", "beta"}


def test_logs_at_info_never_carry_key_secrets_or_memory_contents(bank, key_all, caplog):
    secret = key_all.split("_", 2)[2]
    client = client_with(key_all)
    with caplog.at_level("INFO"):
        response = client.post("/api/banks/alpha/memories/",
                               {"contents": [{"content": "private-diary-entry"}]}, format="json")
        assert response.status_code == 201
        client.get("/api/banks/alpha/memories/?q=private-diary-entry")
        client_with(key_all[:-2] + "xx").get("/api/banks/")
    assert caplog.records, "expected the run and the rejected key to be logged"
    assert secret not in caplog.text
    assert "private-diary-entry" not in caplog.text
