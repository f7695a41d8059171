"""Every input limit answers 400/413 with a message naming the limit, and throttling answers
429 with Retry-After. Limits are lowered per test; the defaults never bind in the suite."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from hindsight_project.settings import env_rate
from tests.factories import items

pytestmark = pytest.mark.django_db
RETAIN = "/api/banks/alpha/memories/"


def retain(api, contents, **extra):
    return api.post(RETAIN, {"contents": contents, "async": True, **extra}, format="json")


class TestItemLimits:
    def test_batch_over_max_items_is_413_naming_the_limit(self, api, bank, settings):
        settings.HINDSIGHT_MAX_BATCH_ITEMS = 5
        response = retain(api, items(6))
        assert response.status_code == 413
        assert response.json()["limit"] == "HINDSIGHT_MAX_BATCH_ITEMS"
        assert "HINDSIGHT_MAX_BATCH_ITEMS" in response.json()["detail"]

    def test_content_over_max_bytes_is_413(self, api, bank, settings):
        settings.HINDSIGHT_MAX_CONTENT_BYTES = 10
        response = retain(api, [{"content": "é" * 6}])  # 6 chars, 12 bytes
        assert response.status_code == 413
        assert response.json()["limit"] == "HINDSIGHT_MAX_CONTENT_BYTES"

    def test_metadata_over_max_bytes_is_413(self, api, bank, settings):
        settings.HINDSIGHT_MAX_METADATA_BYTES = 16
        ok = retain(api, [{"content": "x", "metadata": {"k": "v" * 14}}])
        assert ok.status_code == 202
        response = retain(api, [{"content": "x", "metadata": {"k": "v" * 16}}])
        assert response.status_code == 413
        assert response.json()["limit"] == "HINDSIGHT_MAX_METADATA_BYTES"

    def test_too_many_tags_is_413(self, api, bank, settings):
        settings.HINDSIGHT_MAX_TAGS = 3
        assert retain(api, [{"content": "x", "tags": ["a", "b", "c"]}]).status_code == 202
        response = retain(api, [{"content": "x", "tags": ["a", "b", "c", "d"]}])
        assert response.status_code == 413
        assert response.json()["limit"] == "HINDSIGHT_MAX_TAGS"

    def test_lone_surrogate_in_content_is_400_naming_the_field(self, api, bank):
        raw = b'{"contents": [{"content": "bad \\ud800 text"}], "async": true}'
        response = api.generic("POST", RETAIN, raw, content_type="application/json")
        assert response.status_code == 400
        assert "content" in response.json()["contents"]["0"]

    @pytest.mark.parametrize("item, field", [
        ({"content": "nul \x00 inside"}, "content"),
        ({"content": "x", "context": "\x00"}, "context"),
        ({"content": "x", "metadata": {"k": "v\x00"}}, "metadata"),
        ({"content": "x", "tags": ["ok", "t\x00"]}, "tags"),
        ({"content": "x", "entities": [{"text": "Al\x00ice"}]}, "entities"),
    ])
    def test_nul_character_anywhere_in_an_item_is_400_naming_the_field(self, api, bank, item,
                                                                       field):
        # PostgreSQL refuses NUL in text: accepted, it would fail the whole operation's chunk.
        response = retain(api, [{"content": "fine"}, item])
        assert response.status_code == 400
        assert list(response.json()["contents"]["1"]) == [field]

    def test_body_over_max_bytes_is_413(self, api, bank, settings):
        settings.HINDSIGHT_MAX_BODY_BYTES = 2048
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
        response = retain(api, [{"content": "x" * 4096}])
        assert response.status_code == 413
        assert response.json()["limit"] == "HINDSIGHT_MAX_BODY_BYTES"

    def test_bulk_cancel_over_max_ids_is_413(self, api, bank):
        ids = ["00000000-0000-0000-0000-000000000000"] * 1001
        response = api.post("/api/banks/alpha/operations/cancel/", {"operation_ids": ids},
                            format="json")
        assert response.status_code == 413


class TestQueryLimits:
    def test_list_limit_below_one_is_400_and_above_max_is_capped(self, api, bank):
        assert api.get("/api/banks/alpha/operations/?limit=0").status_code == 400
        assert api.get("/api/banks/alpha/operations/?limit=x").status_code == 400
        assert api.get("/api/banks/alpha/operations/?limit=100000").json()["limit"] == 100

    @pytest.mark.parametrize("path", [
        "/api/banks/", "/api/banks/alpha/operations/", "/api/operations/",
        "/api/banks/alpha/memories/", "/v1/default/banks", "/v1/default/banks/alpha/operations",
        "/v1/default/banks/alpha/memories/list",
    ])
    def test_offset_beyond_the_database_integer_range_is_rejected_not_500(self, api, bank, path):
        # Found by schemathesis: SQLite answered "datatype mismatch" for a 20-digit offset.
        response = api.get(f"{path}?offset=99999999999999999999")
        assert response.status_code in (400, 422)
        assert "offset" in response.content.decode()

    def test_wait_over_max_seconds_is_400_naming_the_maximum(self, api, bank):
        op = retain(api, items(1)).json()["operation_id"]
        response = api.get(f"/api/banks/alpha/operations/{op}/?wait=61")
        assert response.status_code == 400
        assert "60" in response.json()["wait"][0]
        assert api.get(f"/api/banks/alpha/operations/{op}/?wait=-1").status_code == 400


class TestThrottling:
    @pytest.fixture(autouse=True)
    def _fresh_counters(self):
        cache.clear()
        yield
        cache.clear()

    def test_key_over_its_rate_gets_429_with_retry_after(self, bank, api_a, api_all, settings):
        settings.HINDSIGHT_THROTTLE_RATE = "3/min"
        for _ in range(3):
            assert api_a.get("/api/banks/alpha/").status_code == 200
        response = api_a.get("/api/banks/alpha/")
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 60
        # Counted per key: another key is not slowed down by the first one.
        assert api_all.get("/api/banks/alpha/").status_code == 200

    def test_requests_without_key_are_throttled_per_address(self, api, bank, settings):
        settings.HINDSIGHT_ANON_THROTTLE_RATE = "2/min"
        assert api.get("/api/banks/").status_code == 200
        assert api.get("/api/banks/").status_code == 200
        assert api.get("/api/banks/").status_code == 429

    def test_compatible_surface_is_throttled_per_key_too(self, bank, api_a, settings):
        settings.HINDSIGHT_THROTTLE_RATE = "1/min"
        assert api_a.get("/v1/default/banks").status_code == 200
        response = api_a.get("/v1/default/banks")
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "detail" in response.json()

    def test_empty_rate_disables_throttling(self, api, bank, settings):
        settings.HINDSIGHT_ANON_THROTTLE_RATE = ""
        for _ in range(30):
            assert api.get("/api/banks/").status_code == 200


@pytest.mark.parametrize("value", ["off", "OFF", " none ", ""])
def test_throttle_rate_off_from_the_environment_disables_it(monkeypatch, value):
    monkeypatch.setenv("HINDSIGHT_THROTTLE_RATE", value)
    assert env_rate("HINDSIGHT_THROTTLE_RATE", "20000/min") == ""


@pytest.mark.parametrize("value", ["fast", "10", "10/", "x/min", "10/week"])
def test_a_malformed_throttle_rate_refuses_to_start(monkeypatch, value):
    monkeypatch.setenv("HINDSIGHT_THROTTLE_RATE", value)
    with pytest.raises(ImproperlyConfigured, match="HINDSIGHT_THROTTLE_RATE"):
        env_rate("HINDSIGHT_THROTTLE_RATE", "20000/min")


def test_settings_module_reads_throttle_off_and_a_rate_from_the_environment():
    # The real settings module, loaded fresh in its own interpreter from the environment.
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(repr(settings.HINDSIGHT_THROTTLE_RATE), "
            "repr(settings.HINDSIGHT_ANON_THROTTLE_RATE))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hindsight_project.settings",
           "HINDSIGHT_THROTTLE_RATE": "off", "HINDSIGHT_ANON_THROTTLE_RATE": "7/min"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["''", "'7/min'"]
