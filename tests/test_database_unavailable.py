"""A database that cannot be written -- here SQLite switched to read-only on the very connection
the request uses (``PRAGMA query_only``: the same SQLITE_READONLY error as a read-only file or
mount) -- is a 503 with ``Retry-After`` on every surface, never a 500, and commits nothing; the
next request after it is writable again succeeds. (PostgreSQL cut mid-run:
tests/scale/test_database_outage.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.db import connection

from banks.models import Bank, Memory
from operations.models import Operation

pytestmark = pytest.mark.django_db

DETAIL = {"detail": "database unavailable, retry"}


@pytest.fixture
def read_only() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = 1")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = 0")


def assert_unavailable(response, settings) -> None:
    assert response.status_code == 503, response.content
    assert response.json() == DETAIL
    assert response["Retry-After"] == str(settings.HINDSIGHT_DB_RETRY_AFTER)


@pytest.mark.parametrize(("url", "body"), [
    ("/api/banks/ro/memories/", {"contents": [{"content": "a"}, {"content": "b"}],
                                 "async": True}),
    ("/v1/default/banks/ro/memories", {"items": [{"content": "a"}, {"content": "b"}],
                                      "async": True}),
], ids=["native", "compatible"])
def test_submit_to_an_unwritable_database_is_503_and_commits_nothing(
    api, settings, read_only, url, body
):
    assert_unavailable(api.post(url, body, format="json"), settings)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = 0")
    assert not Operation.objects.exists() and not Memory.objects.exists()
    assert not Bank.objects.filter(bank_id="ro").exists()
    assert api.post(url, body, format="json").status_code in (200, 202)  # back by itself


def test_admin_page_writing_to_an_unwritable_database_is_503(client, settings):
    staff = User.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(staff)  # the session is written before the database turns read-only
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = 1")
    try:
        response = client.post("/admin/auth/user/add/", {
            "username": "newcomer", "password1": "long enough pw 123",
            "password2": "long enough pw 123", "usable_password": "true"})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = 0")
    assert_unavailable(response, settings)
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.django_db(transaction=True)
def test_health_names_the_database_when_it_cannot_be_reached(client, settings):
    # A database file in a directory that does not exist cannot even be opened.
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = "/nonexistent-dir/hindsight.sqlite3"
    try:
        response = client.get("/health")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unavailable"
    assert body["reason"].startswith("database unavailable: OperationalError")
