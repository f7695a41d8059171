"""The hot reads answered outside DRF (``hindsight_project.admission``: the status poll, its
conditional GET, the common list query, the compatible status poll) pass the same checks as
every other request and answer exactly what DRF's path answers."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from hindsight_project import admission
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


@pytest.fixture
def polled(monkeypatch):
    """A completed operation's poll URL and ETag, and a hook run inside each hot 304 read."""
    from operations import reads
    from tests.factories import make_bank

    op = walk_to(submit_retain(make_bank("alpha"), 3), "completed")
    poll = hot_paths(op)[0]
    etag = APIClient().get(poll)["ETag"]
    real, hooks = reads.current_version_tag, []

    def hooked(*args, **kwargs):
        for hook in hooks:
            hook()
        return real(*args, **kwargs)

    monkeypatch.setattr(reads, "current_version_tag", hooked)
    return poll, etag, hooks


@pytest.mark.django_db(transaction=True)
def test_hot_reads_of_one_process_take_turns(polled, monkeypatch):
    monkeypatch.setattr(admission, "TURN_WAIT", 60)
    poll, etag, hooks = polled
    inside, most, lock, crowded = [0], [0], threading.Lock(), threading.Event()

    def linger() -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            if inside[0] > 1:
                crowded.set()
        crowded.wait(0.05)  # room for a second reader to come in, were it let in
        with lock:
            inside[0] -= 1

    hooks.append(linger)
    codes = []

    def poller() -> None:
        client = APIClient()
        codes.extend(client.get(poll, HTTP_IF_NONE_MATCH=etag).status_code for _ in range(4))

    threads = [threading.Thread(target=poller) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert codes == [304] * 24
    assert most[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_stalled_hot_read_holds_the_others_back_only_for_the_turn_wait(polled, monkeypatch):
    monkeypatch.setattr(admission, "TURN_WAIT", 0.2)
    poll, etag, hooks = polled
    stalled, release = threading.Event(), threading.Event()

    def stall() -> None:
        if threading.current_thread().name == "stalled":
            stalled.set()
            release.wait(60)

    hooks.append(stall)
    codes = []
    first = threading.Thread(name="stalled", target=lambda: codes.append(
        APIClient().get(poll, HTTP_IF_NONE_MATCH=etag).status_code))
    first.start()
    try:
        assert stalled.wait(30)
        assert APIClient().get(poll, HTTP_IF_NONE_MATCH=etag).status_code == 304
        assert first.is_alive()  # answered while the first read still held its turn
    finally:
        release.set()
        first.join(60)
    assert codes == [304]
