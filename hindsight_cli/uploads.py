"""Files on their way to ``POST /api/banks/{bank_id}/files/``: opened lazily and counted as
httpx streams them, so an upload shows real progress without reading every file into memory."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


class CountingFile:
    """A file httpx reads in chunks while it sends the multipart body. ``on_sent`` gets each
    number of bytes read past the furthest point so far: a retried request, which re-reads
    the file from the start, is not counted twice."""

    def __init__(self, path: str | os.PathLike[str], on_sent: Callable[[int], None]) -> None:
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115  (closed with the request)
        self._on_sent = on_sent
        self._furthest = 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        position = self._file.tell()
        if position > self._furthest:
            self._on_sent(position - self._furthest)
            self._furthest = position
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()


def file_part(path: str | os.PathLike[str] | tuple[str, bytes],
              on_sent: Callable[[int], None] | None) -> tuple[str, Any, str]:
    """``(file name, content, content type)`` for httpx's ``files=``: a path is sent under its
    base name; ``(name, bytes)`` as given."""
    if isinstance(path, tuple):
        name, content = path
    else:
        name = Path(path).name
        content = CountingFile(path, on_sent or (lambda _n: None))
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, content, kind
