"""One concise log line per request (method, path, status, duration, request id), the id taken
from ``X-Request-ID`` or generated and always returned; a client's 4xx is no warning."""

from __future__ import annotations

import logging
import re

import pytest

pytestmark = pytest.mark.django_db

LINE = re.compile(r"^(GET|POST) (\S+) (\d{3}) \d+\.\dms id=(\S+)$")


def request_lines(caplog) -> list[re.Match]:
    return [LINE.match(r.getMessage()) for r in caplog.records if r.name == "hindsight.request"]


def test_each_request_logs_one_line_with_the_id_it_returns(api, bank, caplog):
    with caplog.at_level(logging.INFO):
        response = api.get("/api/banks/alpha/")
    [line] = request_lines(caplog)
    assert line.groups()[:3] == ("GET", "/api/banks/alpha/", "200")
    assert response["X-Request-ID"] == line.group(4) and len(line.group(4)) >= 16


def test_a_given_request_id_is_kept_and_an_unsafe_one_replaced(api, bank, caplog):
    with caplog.at_level(logging.INFO):
        kept = api.get("/api/banks/alpha/", HTTP_X_REQUEST_ID="trace-42.a")
        replaced = api.get("/api/banks/alpha/", HTTP_X_REQUEST_ID="bad id\nforged line")
    assert kept["X-Request-ID"] == "trace-42.a"
    assert replaced["X-Request-ID"] != "bad id\nforged line"
    assert [m.group(4) for m in request_lines(caplog)] == ["trace-42.a", replaced["X-Request-ID"]]


def test_client_errors_are_info_not_warnings(api, db, caplog):
    with caplog.at_level(logging.INFO):
        assert api.get("/api/banks/nope/").status_code == 404
        assert api.post("/api/banks/", {"bank_id": ""}, format="json").status_code == 400
    assert [m.group(3) for m in request_lines(caplog)] == ["404", "400"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
