"""Retain files: the one use case behind the native ``POST /api/banks/{bank_id}/files/``, the
compatible ``POST /v1/default/banks/{bank_id}/files/retain`` and the CLI's ``--files``.

The request's files become one ``file_retain`` operation (unit = file; ``banks.jobs.file_retain``
does the extraction). Limits are checked before anything is stored: more than
``HINDSIGHT_MAX_FILES_PER_REQUEST`` files, or one file over ``HINDSIGHT_MAX_FILE_BYTES``, is a
``LimitExceeded`` (413) naming the limit. What a file contains is the job's business: a file
that is not what its name says becomes a ``failed_items`` entry, never a refused request.

The operation row, its payload (names, sizes, digests and per-file options) and the bytes
(``banks.uploads``) are written in one transaction; dispatch happens on its commit. Banks are
created on first upload, and ``operation_id``/``Idempotency-Key`` replay exactly as for
retain (the digests make "the same body" mean the same bytes).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import PureWindowsPath
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction

from operations.exceptions import InvalidInput, LimitExceeded
from operations.states import OperationType
from operations.submission import operation_id_for_key, submit

from . import uploads
from .access import Caller, may_create_bank
from .exceptions import BankNotFound
from .jobs.file_retain import FILE_OPTIONS
from .retain import Retained, finish
from .services import get_or_create_bank

MAX_NAME_CHARS = 255


class UploadedFile(Protocol):
    """What both surfaces hand over: Django's uploaded file objects fit."""

    name: str | None
    size: int | None
    content_type: str | None

    def read(self) -> bytes: ...


def file_name(raw: str | None, index: int) -> str:
    """The base name a client sent (browsers and some clients send a path), never empty."""
    name = PureWindowsPath(raw or "").name.strip()  # splits on both / and \
    return name[:MAX_NAME_CHARS] or f"file-{index + 1}"


def check_limits(files: Sequence[UploadedFile]) -> None:
    if not files:
        raise InvalidInput({"files": ["Upload at least one file."]})
    most = settings.HINDSIGHT_MAX_FILES_PER_REQUEST
    if len(files) > most:
        raise LimitExceeded(
            "HINDSIGHT_MAX_FILES_PER_REQUEST", most,
            f"{len(files)} files is more than HINDSIGHT_MAX_FILES_PER_REQUEST ({most}) per "
            "request; split the upload",
        )
    largest = settings.HINDSIGHT_MAX_FILE_BYTES
    for index, upload in enumerate(files):
        if (upload.size or 0) > largest:
            raise LimitExceeded(
                "HINDSIGHT_MAX_FILE_BYTES", largest,
                f"{file_name(upload.name, index)} is {upload.size} bytes, more than "
                f"HINDSIGHT_MAX_FILE_BYTES ({largest})",
            )


def retain_files(
    caller: Caller | None,
    bank_id: str,
    files: Sequence[UploadedFile],
    options: Sequence[dict[str, Any]] | None = None,
    *,
    run_async: bool,
    operation_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> Retained:
    """Submit ``files`` to ``bank_id`` as one ``file_retain`` operation; ``options`` (one dict
    per file, or None) may give ``document_id``, ``context``, ``timestamp``, ``metadata`` and
    ``tags`` (checked by the job as retain items are: ``InvalidInput``)."""
    check_limits(files)
    if options is not None and len(options) != len(files):
        raise InvalidInput({"files_metadata": [
            f"Give one entry per file: {len(options)} entries for {len(files)} files."]})
    if not may_create_bank(caller, bank_id):
        raise BankNotFound(bank_id)
    bank = get_or_create_bank(bank_id)
    contents = [upload.read() for upload in files]
    specs = []
    for index, (upload, data) in enumerate(zip(files, contents, strict=True)):
        spec = {"name": file_name(upload.name, index), "size": len(data),
                "content_type": upload.content_type or "",
                "sha256": hashlib.sha256(data).hexdigest()}
        given = options[index] if options else {}
        spec.update({key: given[key] for key in FILE_OPTIONS if given.get(key) is not None})
        specs.append(spec)
    payload = {"files": specs}
    if operation_id is None and idempotency_key:
        operation_id = operation_id_for_key(bank, idempotency_key)
    with transaction.atomic(), uploads.accepting(payload):
        result = submit(bank, OperationType.FILE_RETAIN, payload, operation_id,
                        dispatch=run_async)
        if result.created:
            uploads.store(result.operation.pk, contents)
    return finish(result, run_async)
