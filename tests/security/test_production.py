"""Production settings: refusing the default SECRET_KEY, secure cookies and HSTS behind TLS,
a staff-only admin, and ``make run`` still starting on a fresh checkout with zero config."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from banks.apikeys import ApiKey, verify_key
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = ("SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "HINDSIGHT_PRODUCTION")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env["DJANGO_SETTINGS_MODULE"] = "hindsight_project.settings"
    env.update(extra)
    return env


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)




class TestSecretKey:
    def test_server_refuses_to_start_with_debug_off_and_the_default_key(self):
        result = python("import hindsight_project.wsgi")
        assert result.returncode != 0
        assert "Refusing to start with DEBUG off and the default SECRET_KEY" in result.stderr

    def test_server_refuses_a_short_secret_key(self):
        result = python("import hindsight_project.wsgi", SECRET_KEY="short")
        assert result.returncode != 0
        assert "shorter than" in result.stderr

    def test_secret_key_file_is_read(self, tmp_path):
        key_file = tmp_path / "key"
        key_file.write_text("k" * 50 + "\n")
        result = python("from django.conf import settings; print(settings.SECRET_KEY)",
                        SECRET_KEY_FILE=str(key_file))
        assert result.stdout.strip() == "k" * 50

    def test_unreadable_secret_key_file_fails_loudly(self, tmp_path):
        result = python("from django.conf import settings; settings.SECRET_KEY",
                        SECRET_KEY_FILE=str(tmp_path / "missing"))
        assert result.returncode != 0
        assert "SECRET_KEY_FILE" in result.stderr


class TestTls:
    def test_tls_proxy_setting_turns_on_secure_cookies_and_trusts_forwarded_proto(self):
        code = ("from django.conf import settings as s; "
                "print(s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)")
        assert python(code, HINDSIGHT_BEHIND_TLS_PROXY="1").stdout.split() == [
            "('HTTP_X_FORWARDED_PROTO',", "'https')", "True", "True"]
        assert python(code).stdout.split() == ["None", "False", "False"]

    @pytest.mark.django_db
    def test_hsts_is_sent_on_https_requests_only(self, client):
        with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
            secure = client.get("/health/live", HTTP_X_FORWARDED_PROTO="https")
            plain = client.get("/health/live")
        assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
        assert "Strict-Transport-Security" not in plain
        assert plain["X-Content-Type-Options"] == "nosniff"

    def test_ssl_redirect_setting_is_read_from_the_environment(self):
        code = "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT)"
        assert python(code, HINDSIGHT_SSL_REDIRECT="1").stdout.split() == ["True"]
        assert python(code).stdout.split() == ["False"]

    @pytest.mark.django_db
    def test_ssl_redirect_sends_plain_http_to_https_and_serves_https(self, client):
        with override_settings(SECURE_SSL_REDIRECT=True,
                               SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
            plain = client.get("/health/live")
            secure = client.get("/health/live", HTTP_X_FORWARDED_PROTO="https")
        assert plain.status_code == 301
        assert plain["Location"] == "https://testserver/health/live"
        assert secure.status_code == 200 and secure.json()["status"] == "alive"


@pytest.mark.django_db
class TestAdmin:
    def test_admin_is_closed_to_anonymous_users_and_api_keys(self, client, key_all):
        assert client.get("/admin/").status_code == 302
        response = client.get("/admin/banks/apikey/", HTTP_AUTHORIZATION=f"Bearer {key_all}")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]

    def test_admin_is_closed_to_logged_in_non_staff_users(self, client):
        User.objects.create_user("mallory", password="pw-123456789")
        client.login(username="mallory", password="pw-123456789")
        response = client.get("/admin/banks/apikey/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]

    def test_staff_creates_a_key_shown_once_and_revokes_it(self, admin_client):
        response = admin_client.post("/admin/banks/apikey/add/",
                                     {"name": "from-admin", "banks": "alpha, beta"})
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        key = response.context["key"]
        row = verify_key(key)
        assert row.name == "from-admin" and row.bank_scope == frozenset({"alpha", "beta"})
        listing = admin_client.get("/admin/banks/apikey/").content.decode()
        assert row.prefix in listing and key not in listing
        admin_client.post("/admin/banks/apikey/", {"action": "revoke",
                                                   "_selected_action": [row.pk]})
        assert ApiKey.objects.get(pk=row.pk).revoked_at is not None
        assert verify_key(key) is None


@pytest.mark.slow
def test_make_run_starts_on_a_fresh_checkout_with_zero_config(tmp_path):
    """``make run`` with DEBUG off and no secret configured generates ``data/secret_key`` (mode
    600) and serves."""
    port = free_port()
    env = clean_env(HINDSIGHT_DATA_DIR=str(tmp_path), PORT=str(port))
    server = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200, server.stderr.read().decode() if server.poll() is not None else ""
        key_file = tmp_path / "secret_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(key_file.read_text().strip()) >= 50
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
