"""API keys at rest and on the command line: hashed, shown once, looked up by prefix, revocable."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from banks.apikeys import ApiKey, create_key, digest_of, revoke_key, verify_key

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("apikeys", *args, stdout=out)
    return out.getvalue()


class TestKeysAtRest:
    def test_secret_is_stored_only_as_a_digest(self):
        issued = create_key("ci")
        row = ApiKey.objects.get(pk=issued.api_key.pk)
        secret = issued.key.split("_", 2)[2]
        stored = " ".join(str(v) for v in ApiKey.objects.filter(pk=row.pk).values().get().values())
        assert secret not in stored
        assert row.digest == digest_of(issued.key)
        assert issued.key.startswith(f"hs_{row.prefix}_")

    def test_verify_accepts_the_issued_key_and_rejects_a_tampered_one(self):
        issued = create_key("ci")
        assert verify_key(issued.key).pk == issued.api_key.pk
        assert verify_key(issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B")) is None
        assert verify_key("hs_zzzzzzzz_nothex") is None
        assert verify_key("garbage") is None

    def test_revoked_key_no_longer_verifies_and_keeps_its_revocation_time(self):
        issued = create_key("ci")
        first = revoke_key(issued.api_key.prefix).revoked_at
        assert verify_key(issued.key) is None
        assert revoke_key(issued.api_key.prefix).revoked_at == first

    def test_last_used_is_written_at_most_once_a_minute(self):
        issued = create_key("ci")
        verify_key(issued.key)
        first = ApiKey.objects.get(pk=issued.api_key.pk).last_used_at
        verify_key(issued.key)
        assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at == first
        ApiKey.objects.filter(pk=issued.api_key.pk).update(
            last_used_at=timezone.now() - timedelta(minutes=2)
        )
        verify_key(issued.key)
        assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at > first

    def test_scope_is_none_for_all_banks_and_exact_ids_otherwise(self):
        assert create_key("scoped", ["alpha"]).api_key.bank_scope == frozenset({"alpha"})
        assert create_key("all").api_key.bank_scope is None
        # An empty list is "no bank", never "all banks".
        assert create_key("none", []).api_key.bank_scope == frozenset()


class TestApikeysCommand:
    def test_create_prints_the_key_once_and_list_never_shows_it(self):
        out = run_command("create", "agent", "--bank", "alpha", "--bank", "beta")
        key = out.strip().splitlines()[-1]
        assert verify_key(key) is not None
        listing = run_command("list")
        assert key not in listing
        assert key.split("_")[1] in listing
        assert "alpha, beta" in listing

    def test_revoke_by_prefix_or_full_key(self):
        key = run_command("create", "agent").strip().splitlines()[-1]
        assert "Revoked" in run_command("revoke", key)
        assert "revoked" in run_command("list")
        assert verify_key(key) is None

    def test_revoke_of_unknown_prefix_is_a_command_error(self):
        with pytest.raises(CommandError, match="no API key"):
            run_command("revoke", "deadbeef")

    def test_create_with_invalid_bank_id_is_a_command_error(self):
        with pytest.raises(CommandError, match="invalid bank id"):
            run_command("create", "agent", "--bank", " spaced")
