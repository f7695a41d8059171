"""The common-case content negotiation answers exactly what DRF's own negotiation answers."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from hindsight_project.negotiation import CommonCaseNegotiation

ACCEPTS = [None, "*/*", "", "application/json", "application/json; indent=4",
           "text/html", "application/*", "text/html, application/json;q=0.9"]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api"])
@pytest.mark.parametrize("renderers", [[JSONRenderer()],
                                       [BrowsableAPIRenderer(), JSONRenderer()]])
def test_same_renderer_and_media_type_as_drf(accept, query, renderers):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/x{query}", **headers))

    def outcome(negotiation):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers)
        except Exception as exc:  # NotAcceptable / Http404 for an unknown format
            return type(exc).__name__
        return type(renderer).__name__, media_type

    assert outcome(CommonCaseNegotiation()) == outcome(DefaultContentNegotiation())


def test_api_answers_406_to_a_client_that_accepts_only_html(api, bank):
    assert api.get("/api/banks/alpha/operations/", HTTP_ACCEPT="text/html").status_code == 406
    response = api.get("/api/banks/alpha/operations/", HTTP_ACCEPT="*/*")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
