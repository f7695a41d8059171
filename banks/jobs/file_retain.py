"""``file_retain``: turn each uploaded file into memories. Unit = file.

Per file, before the chunk's transaction (``prepare_chunk``, no lock held): read its bytes
(``banks.uploads``), extract the text (``banks.documents``, bounded in time and size), split it
at headings and paragraphs into memories of at most ``HINDSIGHT_FILE_MEMORY_CHARS``, each with
the file's metadata and ``document_id`` = the file name unless one was given. In the chunk's
transaction: insert the memories, record the files that failed (unsupported, malformed, over a
limit: one ``failed_items`` entry each, the rest goes on), and drop the processed files' bytes,
all committed with ``progress``. The stage shows the running count of memories, so a large
upload shows progress per memory as well as per file.

A resumed run (retry, reaped worker) starts at the first uncommitted file and numbers its
memories after the last committed one (``Memory.item_index``, unique per operation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Max

from operations.exceptions import InvalidInput
from operations.models import Operation, OperationItemFailure
from operations.registry import ChunkOutcome, Job, register
from operations.states import OperationType

from .. import uploads
from ..documents import ExtractionError, Limits, extract_text, file_kind, split_text
from ..items import NewMemory, build_memory, field_errors
from ..models import Memory
from ..services import MemoryRows, insert_memories, memory_rows
from .batch_retain import retained

# Per-file options a request may give, as on a retain item.
FILE_OPTIONS = ("document_id", "context", "timestamp", "metadata", "tags")
READ_AHEAD_FILES = 64
READ_AHEAD_BYTES = 8 * 1024 * 1024


@dataclass
class FileRun:
    files: list[dict]
    next_item_index: int  # Memory.item_index of the next memory of this operation
    memories: int  # committed so far, for the stage
    entity_ids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FileChunk:
    units: int  # files covered, stored or failed
    rows: MemoryRows
    failures: list[OperationItemFailure]


def _stage(memories: int) -> str:
    return f"retaining files: {memories} memories"


def read_ahead(files: list[dict], start: int, end: int) -> range:
    """Files to load in one query from ``start``: up to ``READ_AHEAD_FILES`` of them and
    ``READ_AHEAD_BYTES`` (at least one file): one query per small file cost more than
    extracting it, and a run of big files must not all sit in memory at once."""
    stop, size = start, 0
    while stop < end and stop - start < READ_AHEAD_FILES:
        size += files[stop]["size"]
        stop += 1
        if size >= READ_AHEAD_BYTES:
            break
    return range(start, stop)


class FileRetainJob(Job):
    type = OperationType.FILE_RETAIN
    stage = "retaining files"

    def validate_payload(self, bank: Any, payload: dict) -> dict:
        if not uploads.is_accepting(payload):
            raise InvalidInput({"type": [
                "file_retain takes uploaded files: send them as multipart to "
                "POST /api/banks/{bank_id}/files/"]})
        files = payload.get("files")
        if not isinstance(files, list) or not files:
            raise InvalidInput({"files": ["Upload at least one file."]})
        # The options of each file are checked exactly like a retain item's fields.
        options = [{"content": "", **{k: f.get(k) for k in FILE_OPTIONS}} for f in files]
        errors = field_errors(options)
        if errors:
            raise InvalidInput({"files": errors})
        return payload

    def count_units(self, bank: Any, payload: dict) -> int:
        return len(payload["files"])

    def prepare(self, operation: Operation) -> FileRun:
        done = Memory.objects.filter(operation=operation).aggregate(
            count=Count("id"), last=Max("item_index"))
        last = done["last"]
        return FileRun(operation.payload.data["files"],
                       next_item_index=0 if last is None else last + 1,
                       memories=done["count"])

    def prepare_chunk(
        self, operation: Operation, state: FileRun, start: int, limit: int, deadline: float
    ) -> FileChunk:
        memories: list[NewMemory] = []
        failures: list[OperationItemFailure] = []
        end = min(start + limit, len(state.files))
        index = start
        loaded: dict[int, bytes] = {}
        while index < end:
            spec = state.files[index]
            if index not in loaded:
                loaded = uploads.read_many(operation.pk, read_ahead(state.files, index, end))
            try:
                memories.extend(self._memories(spec, loaded.pop(index, None),
                                               state.next_item_index + len(memories)))
            except ExtractionError as exc:
                failures.append(OperationItemFailure(
                    operation=operation, index=index, error=f"{spec['name']}: {exc}"))
            index += 1
            if time.monotonic() >= deadline:
                break
        rows = memory_rows(operation.bank_id, operation.pk, memories)
        return FileChunk(units=index - start, rows=rows, failures=failures)

    def _memories(self, spec: dict, data: bytes | None,
                  first_item_index: int) -> list[NewMemory]:
        if data is None:
            raise ExtractionError("the uploaded bytes are gone (deleted before processing)")
        kind = file_kind(spec["name"], spec.get("content_type") or "")
        seconds = settings.HINDSIGHT_FILE_TIME_LIMIT
        extracted = extract_text(data, kind, Limits(
            deadline=time.monotonic() + seconds, seconds=seconds,
            max_chars=settings.HINDSIGHT_MAX_FILE_TEXT_CHARS,
            max_unpacked_bytes=settings.HINDSIGHT_MAX_FILE_UNPACKED_BYTES,
            max_pages=settings.HINDSIGHT_MAX_FILE_PAGES,
        ))
        parts = split_text(extracted.text, settings.HINDSIGHT_FILE_MEMORY_CHARS)
        if not parts:
            hint = " (a scanned PDF needs OCR, which this server does not do)" \
                if kind == "pdf" else ""
            raise ExtractionError(f"no text found in the file{hint}")
        file_metadata = {"file_name": spec["name"], "file_type": kind,
                         "file_size": str(spec["size"]), "file_parts": str(len(parts))}
        if extracted.pages is not None:
            file_metadata["file_pages"] = str(extracted.pages)
        memories = []
        for number, part in enumerate(parts):
            item = {
                **{key: spec.get(key) for key in FILE_OPTIONS},
                "content": part,
                "document_id": spec.get("document_id") or spec["name"],
                "metadata": {**(spec.get("metadata") or {}), **file_metadata,
                             "file_part": str(number + 1)},
            }
            memories.append(build_memory(item, first_item_index + number))
        return memories

    def process_chunk(
        self, operation: Operation, state: FileRun, start: int, limit: int, deadline: float,
        prepared: FileChunk | None = None,
    ) -> ChunkOutcome:
        chunk = prepared if prepared is not None else self.prepare_chunk(
            operation, state, start, limit, deadline)
        insert_memories(operation.bank_id, chunk.rows, state.entity_ids)
        OperationItemFailure.objects.bulk_create(chunk.failures)
        uploads.discard(operation.pk, range(start, start + chunk.units))
        # This run's own count: if the commit loses, the run stops and the next one recounts.
        state.next_item_index += len(chunk.rows.rows)
        state.memories += len(chunk.rows.rows)
        return ChunkOutcome(units=chunk.units, failed=len(chunk.failures),
                            stage=_stage(state.memories))

    def summary(self, operation: Operation) -> dict:
        stored = operation.summary or {}
        if "memory_count" in stored:
            return {**stored, "failed_items_count": operation.failed_items_count}
        return {
            "memory_count": Memory.objects.filter(operation=operation).count(),
            "files_count": operation.total,
            "failed_items_count": operation.failed_items_count,
        }

    def result(self, operation: Operation) -> dict:
        return {**self.summary(operation), **retained(operation)}


register(FileRetainJob())
