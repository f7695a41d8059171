"""Where uploaded bytes wait for the ``file_retain`` job: ``banks.UploadedFile`` rows.

The database is the one store that the embedded executor's threads and every RQ worker (on
any machine) already share, so scale-out needs no shared disk and no object store. A file's
row is written in the transaction that creates its operation (no operation without its bytes,
and nothing to clean up if that transaction fails) and deleted in the chunk transaction that
commits the file's memories or its failure; the rows of files never processed go with the
operation record (``on_delete=CASCADE``) when it is deleted or pruned.

A ``file_retain`` operation can only be created with its bytes: the job refuses a payload
unless ``accepting(payload)`` is active, which only ``banks.files`` does. The generic
``POST .../operations/`` endpoint, which carries no files, is refused with a pointer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from .models import UploadedFile

_ACCEPTING: ContextVar[int | None] = ContextVar("hindsight_accepting_uploads", default=None)


@contextmanager
def accepting(payload: dict) -> Iterator[None]:
    """Inside this block, a ``file_retain`` submission of ``payload`` is allowed."""
    token = _ACCEPTING.set(id(payload))
    try:
        yield
    finally:
        _ACCEPTING.reset(token)


def is_accepting(payload: dict) -> bool:
    return _ACCEPTING.get() == id(payload)


def store(operation_id: object, contents: Sequence[bytes]) -> None:
    """Save each file's bytes as unit ``index`` of the operation (in the caller's transaction)."""
    UploadedFile.objects.bulk_create(
        UploadedFile(operation_id=operation_id, index=index, data=data)
        for index, data in enumerate(contents)
    )


def read_many(operation_id: object, indexes: Sequence[int]) -> dict[int, bytes]:
    """The bytes of the units ``indexes`` (a contiguous run) in one query; units whose bytes
    are gone are missing from the answer."""
    if not indexes:
        return {}
    rows = UploadedFile.objects.filter(operation_id=operation_id, index__gte=min(indexes),
                                       index__lte=max(indexes)).values_list("index", "data")
    return {index: bytes(data) for index, data in rows}


def discard(operation_id: object, indexes: Sequence[int]) -> None:
    """Drop the bytes of processed units (in the chunk transaction that committed them)."""
    if indexes:
        UploadedFile.objects.filter(operation_id=operation_id, index__in=indexes).delete()
