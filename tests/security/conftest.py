"""The security cast: bank A ("alpha") and bank B ("beta-secret") with data, and keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from banks.apikeys import create_key


def client_with(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def key_a(db) -> str:
    return create_key("tenant-a", ["alpha"]).key


@pytest.fixture
def key_all(db) -> str:
    return create_key("operator").key


@pytest.fixture
def api_a(key_a) -> APIClient:
    return client_with(key_a)


@pytest.fixture
def api_all(key_all) -> APIClient:
    return client_with(key_all)
