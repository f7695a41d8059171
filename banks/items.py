"""Retain items: request-time validation (shape, types, limits) and job-time conversion.

Validation runs on every item of a request of up to ``HINDSIGHT_MAX_BATCH_ITEMS`` items, so it is
plain Python over dicts, not a nested serializer per item: a 10,000-item request must cost little
next to storing it (``bench/ingest.py`` prints both).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings
from uuid_utils.compat import uuid7

from operations.exceptions import InvalidInput, LimitExceeded

MAX_REPORTED_ERRORS = 50
_OPTIONAL_TEXT = ("context", "document_id")


class ItemError(Exception):
    """One item cannot be stored; it is recorded in ``failed_items`` and the batch goes on."""


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# JSON may carry lone surrogates ("\\ud800") that no database can store as UTF-8, and NUL
# ("\\u0000"), which PostgreSQL text and jsonb refuse (the chunk's COPY would fail and take the
# whole operation with it): a 400 naming the field, on every backend, instead of a failure deep
# inside the job (issue 9, found by hypothesis).
_NOT_UNICODE = ["Must be valid Unicode without NUL (no \\u0000, no unpaired surrogates)."]


def _encodable(text: str) -> bool:
    # Both scans are C-speed and settle almost every string; encode only non-ASCII text.
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_many_bytes(text: str, limit: int) -> bool:
    # Characters bound bytes from below (and from above, x4): encode only when inconclusive.
    return len(text) > limit or (
        len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
    )


def _item_errors(item: Any, max_bytes: int) -> dict[str, list[str]] | None:
    if not isinstance(item, dict):
        return {"non_field_errors": ["Expected an object with a 'content' string."]}
    errors: dict[str, list[str]] = {}
    content = item.get("content")
    if not isinstance(content, str):
        errors["content"] = ["This field is required and must be a string."]
    elif _too_many_bytes(content, max_bytes):
        raise LimitExceeded(
            "HINDSIGHT_MAX_CONTENT_BYTES",
            max_bytes,
            f"item content is larger than HINDSIGHT_MAX_CONTENT_BYTES ({max_bytes} bytes)",
        )
    elif not _encodable(content):
        errors["content"] = _NOT_UNICODE
    for name in _OPTIONAL_TEXT:
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = ["Must be a string or null."]
        elif value and not _encodable(value):
            errors[name] = _NOT_UNICODE
    timestamp = item.get("timestamp")
    if timestamp is not None and timestamp != "unset":
        try:
            if not isinstance(timestamp, str):
                raise ValueError
            parse_timestamp(timestamp)
        except ValueError:
            errors["timestamp"] = ["Must be an ISO-8601 date-time, e.g. 2024-03-15T10:00:00Z."]
    metadata = item.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        errors["metadata"] = ["Must be an object mapping strings to strings."]
    elif metadata:
        # One joined string: a C-level size bound and Unicode check for all keys and values.
        joined = "".join(metadata) + "".join(metadata.values())
        limit = settings.HINDSIGHT_MAX_METADATA_BYTES
        if _too_many_bytes(joined, limit):
            raise LimitExceeded(
                "HINDSIGHT_MAX_METADATA_BYTES", limit,
                f"item metadata is larger than HINDSIGHT_MAX_METADATA_BYTES ({limit} bytes)",
            )
        if not _encodable(joined):
            errors["metadata"] = _NOT_UNICODE
    tags = item.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors["tags"] = ["Must be a list of strings."]
    elif tags:
        if len(tags) > settings.HINDSIGHT_MAX_TAGS:
            raise LimitExceeded(
                "HINDSIGHT_MAX_TAGS", settings.HINDSIGHT_MAX_TAGS,
                f"{len(tags)} tags on one item is more than HINDSIGHT_MAX_TAGS "
                f"({settings.HINDSIGHT_MAX_TAGS})",
            )
        if not _encodable("".join(tags)):
            errors["tags"] = _NOT_UNICODE
    entities = item.get("entities")
    if entities is not None and not _valid_entities(entities):
        errors["entities"] = [
            'Must be a list of {"text": non-empty string, "type"?: string} objects.'
        ]
    elif entities and not _encodable(
        "".join(e["text"] + (e.get("type") or "") for e in entities)
    ):
        errors["entities"] = _NOT_UNICODE
    return errors or None


def _valid_entities(entities: Any) -> bool:
    return isinstance(entities, list) and all(
        isinstance(entity, dict)
        and isinstance(entity.get("text"), str)
        and entity["text"].strip()
        and isinstance(entity.get("type") or "", str)
        for entity in entities
    )


def validate_contents(contents: Any) -> list[dict]:
    """Check a ``contents`` list; raise ``InvalidInput`` (400) with per-index field messages,
    or ``LimitExceeded`` (413). Returns the items, unchanged."""
    if not isinstance(contents, list):
        raise InvalidInput({"contents": ["Expected a list of items."]})
    if not contents:
        raise InvalidInput({"contents": ["Must contain at least one item."]})
    max_items = settings.HINDSIGHT_MAX_BATCH_ITEMS
    if len(contents) > max_items:
        raise LimitExceeded(
            "HINDSIGHT_MAX_BATCH_ITEMS",
            max_items,
            f"{len(contents)} items is more than HINDSIGHT_MAX_BATCH_ITEMS ({max_items}) "
            "per request; split the batch",
        )
    errors = field_errors(contents)
    if errors:
        raise InvalidInput({"contents": errors})
    return contents


def field_errors(contents: list) -> dict[str, dict[str, list[str]]]:
    """Per-index field messages of retain items (the first ``MAX_REPORTED_ERRORS``); raises
    ``LimitExceeded`` for a field over its size limit. No limit on the number of items."""
    max_bytes = settings.HINDSIGHT_MAX_CONTENT_BYTES
    errors: dict[str, dict[str, list[str]]] = {}
    for index, item in enumerate(contents):
        item_errors = _item_errors(item, max_bytes)
        if item_errors:
            errors[str(index)] = item_errors
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
    return errors


class NewMemory(NamedTuple):
    """A validated item, ready for ``banks.services.store_memories``. A tuple, not a model
    instance: building 10,000 ``Memory`` objects per batch cost more than inserting the rows."""

    id: uuid.UUID
    content: str
    context: str
    timestamp: datetime | None
    metadata: dict
    tags: list
    document_id: str | None
    item_index: int | None
    entities: list  # caller-supplied entities, stored with the extracted ones


def build_memory(item: dict, index: int | None) -> NewMemory:
    """Turn one validated item into a memory to store; ``ItemError`` for a semantic problem."""
    content = item["content"]
    if not content.strip():
        raise ItemError("content must not be empty")
    timestamp = item.get("timestamp")
    return NewMemory(
        uuid7(),  # time-ordered, as Memory.id's default (see there)
        content,
        item.get("context") or "",
        parse_timestamp(timestamp) if timestamp and timestamp != "unset" else None,
        item.get("metadata") or {},
        item.get("tags") or [],
        item.get("document_id"),
        index,
        item.get("entities") or [],
    )
