"""Translation of banks, memories, retain and recall to and from the Hindsight-compatible
shapes (docs/api.md 2.3, 2.4).

Request side: the upstream retain body (``items``, ``async``, ``document_tags``, content blocks,
explicit nulls) becomes the native ``contents`` payload that ``operations.submission.submit``
validates and stores. Response side: model rows become the dicts the official client's pydantic
models parse. No behaviour lives here; the views call the shared services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework.exceptions import ErrorDetail, ValidationError

from banks.models import Bank, Memory
from banks.recall import CHARS_PER_TOKEN, RecallHit
from operations.exceptions import InvalidInput, InvalidRequest
from operations.states import ACTIVE, OperationStatus

from .vocabulary import compat_status, iso

# We keep no disposition; upstream's neutral midpoint is what every bank reports.
DEFAULT_DISPOSITION = {"skepticism": 3, "literalism": 3, "empathy": 3}
FACT_TYPE = "world"  # every memory retained here is a plain fact
UPDATE_MODES = frozenset({"replace", "append"})
# Item keys the native batch_retain payload carries (everything else upstream sends is accepted
# and ignored: resolve_entities, observation_scopes, strategy, update_mode).
_PASSED_THROUGH = ("context", "timestamp", "metadata", "document_id")


@dataclass(frozen=True)
class RetainBody:
    contents: list[dict[str, Any]]
    run_async: bool
    operation_id: uuid.UUID | None


def _error(message: str, code: str = "value_error") -> list[ErrorDetail]:
    return [ErrorDetail(message, code=code)]


def _content_text(content: Any) -> tuple[str | None, list[ErrorDetail] | None]:
    """A string, or upstream's list of content blocks of which only text blocks are supported."""
    if isinstance(content, str):
        if not content.strip():
            return None, _error("Content must not be blank")
        return content, None
    if isinstance(content, list) and content:
        parts = []
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "text":
                return None, _error("Only text content blocks are supported by this server")
            if not isinstance(block.get("text"), str):
                return None, _error("A text block needs a 'text' string")
            parts.append(block["text"])
        text = "\n".join(parts)
        return (text, None) if text.strip() else (None, _error("Content must not be blank"))
    if content is None:
        return None, _error("Field required", "required")
    return None, _error("Input should be a valid string or a list of content blocks")


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _entities(value: Any) -> tuple[list[dict] | None, list[ErrorDetail] | None]:
    if value is None:
        return None, None
    if not isinstance(value, list) or not all(
        isinstance(e, dict) and isinstance(e.get("text"), str)
        and isinstance(e.get("type"), str | None) for e in value
    ):
        return None, _error("Input should be a list of {'text': str, 'type': str | null}")
    return [{"text": e["text"], **({"type": e["type"]} if e.get("type") else {})}
            for e in value], None


def _item(raw: Any, document_tags: list[str]) -> tuple[dict | None, dict | None]:
    """One upstream ``MemoryItem`` -> one native item, or its field errors."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": _error("Input should be a valid dictionary")}
    errors: dict[str, list[ErrorDetail]] = {}
    content, content_error = _content_text(raw.get("content"))
    if content_error:
        errors["content"] = content_error
    tags = raw.get("tags")
    if tags is not None and not _string_list(tags):
        errors["tags"] = _error("Input should be a list of strings")
    entities, entity_error = _entities(raw.get("entities"))
    if entity_error:
        errors["entities"] = entity_error
    if raw.get("update_mode") not in (None, *UPDATE_MODES):
        errors["update_mode"] = _error("Input should be 'replace', 'append' or null")
    if raw.get("resolve_entities") not in (None, True, False):
        errors["resolve_entities"] = _error("Input should be a valid boolean")
    if errors:
        return None, errors
    item: dict[str, Any] = {"content": content}
    item.update({key: raw[key] for key in _PASSED_THROUGH if raw.get(key) is not None})
    merged = list(dict.fromkeys([*(tags or []), *document_tags]))
    if merged:
        item["tags"] = merged
    if entities:
        item["entities"] = entities
    return item, None


def parse_retain(body: Any) -> RetainBody:
    """Check the upstream retain body; ``ValidationError`` (422) locates every bad field."""
    if not isinstance(body, dict):
        raise ValidationError({"body": _error("Input should be a valid dictionary")})
    errors: dict[str, Any] = {}
    items = body.get("items")
    if items is None:
        errors["items"] = _error("Field required", "required")
    elif not isinstance(items, list):
        errors["items"] = _error("Input should be a valid list")
    document_tags = body.get("document_tags")
    if document_tags is not None and not _string_list(document_tags):
        errors["document_tags"] = _error("Input should be a list of strings")
    run_async = body.get("async")
    if run_async not in (None, True, False):
        errors["async"] = _error("Input should be a valid boolean")
    operation_id = body.get("operation_id")
    if operation_id is not None:
        try:
            operation_id = uuid.UUID(str(operation_id))
        except ValueError:
            errors["operation_id"] = _error("operation_id must be a valid UUID", "uuid_parsing")
    if errors:
        raise ValidationError({"body": errors})
    contents, item_errors = [], {}
    for index, raw in enumerate(items):
        item, problem = _item(raw, document_tags or [])
        if problem:
            item_errors[str(index)] = problem
        else:
            contents.append(item)
    if item_errors:
        raise ValidationError({"body": {"items": item_errors}})
    return RetainBody(contents, bool(run_async), operation_id)


def check_unique_documents(contents: list[dict]) -> None:
    """Upstream refuses one async request naming the same document twice (its items would race
    to replace each other); we answer the same 400."""
    seen: set[str] = set()
    for item in contents:
        document_id = item.get("document_id")
        if document_id is not None and document_id in seen:
            raise InvalidRequest(f"Duplicate document_id '{document_id}' in one async retain "
                               "request; send one item per document or split the request")
        if document_id is not None:
            seen.add(document_id)


def native_errors_as_items(exc: InvalidInput) -> ValidationError:
    """The domain's validator names the list ``contents``; this surface calls it ``items``."""
    detail = exc.errors
    if isinstance(detail, dict) and "contents" in detail:
        return ValidationError({"body": {"items": detail["contents"]}})
    return ValidationError({"body": detail})


def retain_response(bank: Bank, items_count: int, run_async: bool,
                    operation_id: object | None, success: bool = True) -> dict[str, Any]:
    return {
        "success": success,
        "bank_id": bank.bank_id,
        "items_count": items_count,
        "async": run_async,
        "operation_id": str(operation_id) if operation_id is not None else None,
        "operation_ids": None,
        "usage": None,
    }


# --- Banks --------------------------------------------------------------------------------------


def bank_profile(bank: Bank) -> dict[str, Any]:
    return {
        "bank_id": bank.bank_id,
        "name": bank.name or bank.bank_id,
        "disposition": dict(DEFAULT_DISPOSITION),
        "mission": bank.mission,
        "background": bank.mission or None,
    }


def bank_item(bank: Bank, stats: dict, last_write: datetime | None) -> dict[str, Any]:
    return {
        "bank_id": bank.bank_id,
        "name": bank.name or bank.bank_id,
        "disposition": dict(DEFAULT_DISPOSITION),
        "mission": bank.mission,
        "created_at": iso(bank.created_at),
        "updated_at": iso(bank.updated_at),
        "fact_count": stats.get("memory_count", 0),
        "last_document_at": None,
        "last_write_at": iso(last_write),
        "display_alias": None,
        "matched_aliases": [],
    }


def bank_stats(bank: Bank, stats: dict, documents: int, links: int = 0) -> dict[str, Any]:
    """Memories are the graph's nodes. ``pending_operations`` counts work not finished yet
    (pending and processing), so polling it to 0 means the bank is quiet."""
    by_status = stats.get("operations", {})
    memories = stats.get("memory_count", 0)
    return {
        "bank_id": bank.bank_id,
        "total_nodes": memories,
        "total_links": links,
        "total_documents": documents,
        "nodes_by_fact_type": {FACT_TYPE: memories} if memories else {},
        "links_by_link_type": {"entity": links} if links else {},
        "links_by_fact_type": {FACT_TYPE: links} if links else {},
        "links_breakdown": {FACT_TYPE: {"entity": links}} if links else {},
        "pending_operations": sum(by_status.get(status, 0) for status in ACTIVE),
        "failed_operations": by_status.get(OperationStatus.FAILED, 0),
        "operations_by_status": {compat_status(s): n for s, n in by_status.items()},
        "last_consolidated_at": None,
        "last_memory_write_at": None,
        "pending_consolidation": 0,
        "failed_consolidation": 0,
        "total_observations": 0,
    }


# --- Memories -----------------------------------------------------------------------------------


def memory_list_item(memory: Memory, entity_names: list[str] | None = None) -> dict[str, Any]:
    """One row of ``GET .../memories/list``; ``entities`` is upstream's comma-joined string."""
    return {
        "id": str(memory.pk),
        "text": memory.content,
        "context": memory.context or "",
        "date": iso(memory.timestamp) or "",
        "fact_type": FACT_TYPE,
        "document_id": memory.document_id,
        "mentioned_at": iso(memory.created_at),
        "occurred_start": iso(memory.timestamp),
        "occurred_end": iso(memory.timestamp),
        "entities": ", ".join(entity_names or []),
        "chunk_id": None,
        "proof_count": 1,
        "tags": list(memory.tags or []),
        "metadata": dict(memory.metadata or {}),
        "state": "valid",
        "updated_at": iso(memory.created_at),
    }


def recall_result(hit: RecallHit, entity_names: list[str] | None = None) -> dict[str, Any]:
    memory = hit.memory
    return {
        "id": str(memory.pk),
        "text": memory.content,
        "type": FACT_TYPE,
        "entities": entity_names,
        "context": memory.context or None,
        "occurred_start": iso(memory.timestamp),
        "occurred_end": iso(memory.timestamp),
        "mentioned_at": iso(memory.created_at),
        "document_id": memory.document_id,
        "metadata": {str(k): str(v) for k, v in (memory.metadata or {}).items()},
        "chunk_id": None,
        "tags": list(memory.tags or []),
        "source_fact_ids": None,
        "scores": {"final": hit.score, "keyword": hit.score, "semantic": None, "reranker": None},
        "attachments": None,
    }


def entities_budget(details: dict[str, dict], max_tokens: int | None) -> dict[str, dict]:
    """Keep entities, in the order given, while their names and observations fit in
    ``max_tokens`` (~4 characters a token, as for recall results); the first always stays."""
    budget = (max_tokens or 500) * CHARS_PER_TOKEN
    kept: dict[str, dict] = {}
    used = 0
    for name, detail in details.items():
        used += len(name) + sum(len(o["text"]) for o in detail["observations"])
        if used > budget and kept:
            break
        kept[name] = detail
    return kept
