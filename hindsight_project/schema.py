"""The OpenAPI schema as the Swagger UI shows it: native endpoints grouped by resource (Banks,
Memories, Operations, ...) instead of one "api" tag, each with a one-line summary. Views that
set their own tags or summary with ``extend_schema`` (the Hindsight-compatible surface does)
keep them: ``extend_schema`` overrides these methods in a subclass."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

# Path segment -> (tag, one item). The last resource segment of a path names its group.
RESOURCES = {
    "banks": ("Banks", "bank"),
    "memories": ("Memories", "memory"),
    "operations": ("Operations", "operation"),
    "webhooks": ("Webhooks", "webhook"),
    "deliveries": ("Webhooks", "delivery"),
    "entities": ("Entities", "entity"),
    "files": ("Files", "file"),
    "schedules": ("Schedules", "schedule"),
}
# Where a generic summary would say less than it should.
SUMMARIES = {
    ("POST", "/api/banks/{bank_id}/memories/"):
        "Retain memories (with async: one background operation, 202)",
    ("POST", "/api/banks/{bank_id}/operations/"):
        "Submit a background operation (graph_update, regenerate_observations, ...)",
    ("POST", "/api/banks/{bank_id}/operations/cancel/"):
        "Cancel a bank's operations by id or status",
    ("GET", "/api/operations/"): "List operations across the banks you may see",
    ("PUT", "/v1/default/banks/{bank_id}"): "Create or update a bank",
    ("POST", "/v1/default/banks/{bank_id}/memories"):
        "Retain memories (async: one background operation)",
    ("DELETE", "/v1/default/banks/{bank_id}/operations/{operation_id}"): "Cancel an operation",
    ("DELETE", "/v1/default/banks/{bank_id}/operations/{operation_id}/delete"):
        "Delete a finished operation's record",
    ("GET", "/v1/default/banks/{bank_id}/stats"): "Bank statistics",
}


def a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def segments(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


class ResourceAutoSchema(AutoSchema):
    def resource(self) -> tuple[str, str, str] | None:
        """(segment, tag, one item) of the last resource segment of the path."""
        for part in reversed(segments(self.path)):
            if part in RESOURCES:
                return (part, *RESOURCES[part])
        return None

    def get_tags(self) -> list[str]:
        found = self.resource()
        return [found[1]] if found else super().get_tags()

    def get_summary(self) -> str | None:
        if (self.method, self.path) in SUMMARIES:
            return SUMMARIES[self.method, self.path]
        found = self.resource()
        if found is None:
            return None
        plural, _, one = found
        last = segments(self.path)[-1]
        if last == plural:
            verb = {"GET": "List", "POST": "Create"}.get(self.method, self.method.title())
            noun = plural if self.method == "GET" else a(one)
            return f"{verb} {noun}"
        if last.startswith("{"):
            verb = {"GET": "Get", "PATCH": "Update", "PUT": "Replace",
                    "DELETE": "Delete"}.get(self.method, self.method.title())
            return f"{verb} {a(one)}"
        # An action: /operations/{id}/cancel/ acts on one, /memories/recall/ on the collection.
        parts = segments(self.path)
        target = a(one) if parts[-2].startswith("{") else plural
        return f"{last.replace('_', ' ').capitalize()} {target}"
