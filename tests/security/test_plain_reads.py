"""The hot reads answered outside DRF (``hindsight_project.admission``: the status poll, its
conditional GET, the common list query, the compatible status poll) pass the same checks as
every other request and answer exactly what DRF's path answers."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import submit_retain
from tests.lifecycle import walk_to
from tests.security.conftest import client_with

NEGOTIATED = {"HTTP_ACCEPT": "application/json, text/plain;q=0.5"}  # DRF's path, same answer


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def op(bank):
    return walk_to(submit_retain(bank, 3), "completed")


def hot_paths(op) -> list[str]:
    return [f"/api/banks/alpha/operations/{op.pk}/",
            "/api/banks/alpha/operations/?status=completed",
            f"/v1/default/banks/alpha/operations/{op.pk}"]


def test_each_hot_read_answers_what_drfs_path_answers(api, op):
    for path in hot_paths(op):
        plain, negotiated = api.get(path), api.get(path, **NEGOTIATED)
        assert plain.status_code == negotiated.status_code == 200, path
        assert plain.content == negotiated.content, path
        for header in ("Content-Type", "Allow", "ETag"):
            assert plain.get(header) == negotiated.get(header), (path, header)
    etag = api.get(hot_paths(op)[0])["ETag"]
    plain = api.get(hot_paths(op)[0], HTTP_IF_NONE_MATCH=etag)
    negotiated = api.get(hot_paths(op)[0], HTTP_IF_NONE_MATCH=etag, **NEGOTIATED)
    assert plain.status_code == negotiated.status_code == 304
    assert plain["Allow"] == negotiated["Allow"] == "GET, DELETE, HEAD, OPTIONS"


def test_hot_reads_are_throttled_and_counted_once_when_drf_takes_over(api, op, settings):
    settings.HINDSIGHT_ANON_THROTTLE_RATE = "3/min"
    poll = hot_paths(op)[0]
    assert api.get(poll).status_code == 200
    # An unknown operation is answered by DRF's path after the plain one admitted it: the
    # request is counted there once, not twice.
    assert api.get(f"/api/banks/alpha/operations/{'0' * 32}/").status_code == 404
    assert api.get(poll).status_code == 200
    response = api.get(poll)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_key_scoped_to_another_bank_reads_nothing_through_a_hot_path(op, which):
    from banks.apikeys import create_key
    from tests.factories import make_bank

    make_bank("beta")
    other = client_with(create_key("tenant-b", ["beta"]).key)
    path = hot_paths(op)[which]
    assert other.get(path).status_code == 404
    assert other.get(path, HTTP_IF_NONE_MATCH='"anything"').status_code == 404
    assert str(op.pk) not in other.get(path).content.decode()


def test_a_hot_read_needs_a_key_once_any_key_exists(api, op, key_a):
    for path in hot_paths(op):
        assert api.get(path).status_code == 401, path
        assert client_with(key_a).get(path).status_code == 200, path


def test_a_kept_terminal_body_is_not_served_to_a_key_of_another_bank(api, op):
    from banks.apikeys import create_key
    from tests.factories import make_bank

    poll = hot_paths(op)[0]
    assert api.get(poll).status_code == 200  # rendered, and kept for the next polls
    assert api.get(poll).status_code == 200  # the kept body
    make_bank("beta")
    other = client_with(create_key("tenant-b", ["beta"]).key)
    response = other.get(poll)
    assert response.status_code == 404 and str(op.pk) not in response.content.decode()
    own = client_with(create_key("tenant-a", ["alpha"]).key).get(poll)
    assert own.status_code == 200 and own.json()["operation_id"] == str(op.pk)
