"""The Swagger UI groups endpoints by resource with a one-line summary each, the
Hindsight-compatible surface apart, instead of one "api" tag."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_every_endpoint_has_a_resource_tag_and_a_summary(api):
    schema = api.get("/api/schema/?format=json").json()
    tags = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            assert operation["tags"] != ["api"], (method, path)
            tags[method.upper(), path] = operation["tags"]
    assert tags["GET", "/api/banks/"] == ["Banks"]
    assert tags["POST", "/api/banks/{bank_id}/memories/recall/"] == ["Memories"]
    assert tags["POST", "/api/banks/{bank_id}/operations/{operation_id}/cancel/"] == ["Operations"]
    assert tags["GET", "/api/operations/"] == ["Operations"]
    compat = {tag for (_, path), found in tags.items() if path.startswith("/v1/") for tag in found}
    assert compat and all(tag.startswith("Hindsight-compatible") for tag in compat)
