"""Turning ``hindsight retain`` arguments into retain items: text, stdin, files and globs."""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The documented guideline for synchronous retains: above it, ``--async`` is the better tool
# (the request holds a server thread for the whole batch).
SYNC_MAX_ITEMS = 100
SYNC_MAX_BYTES = 100 * 1024
GLOB_CHARS = frozenset("*?[")


class InputError(Exception):
    """Bad command-line input (a file that cannot be read, a glob that matches nothing)."""


def expand_paths(patterns: list[str]) -> list[str]:
    """Each pattern as the user typed it: an existing path is itself; otherwise a glob is
    expanded here (the shell leaves quoted globs, and Windows shells leave all of them).
    Directories are not items. Order is stable and duplicates are dropped."""
    seen: dict[str, None] = {}
    for pattern in patterns:
        if Path(pattern).exists() or not GLOB_CHARS & set(pattern):
            matches = [pattern]
        else:
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise InputError(f"no file matches {pattern!r}")
        for path in matches:
            if Path(path).is_dir():
                if path == pattern:
                    raise InputError(f"{path} is a directory; pass files or a glob like {path}/*")
                continue
            seen.setdefault(path, None)
    return list(seen)


def read_file_item(path: str) -> dict[str, Any]:
    try:
        content = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return {"content": content, "document_id": path}


def build_items(
    text: str | None,
    files: list[str],
    context: str | None,
    document_id: str | None,
    tags: list[str],
) -> list[dict[str, Any]]:
    """All items of one ``retain`` call; ``--context``/``--tag`` apply to every item."""
    if document_id and files:
        raise InputError("--document-id cannot be combined with --files (each file's path is "
                         "its document id)")
    items: list[dict[str, Any]] = []
    if text == "-":
        text = sys.stdin.read()
    if text is not None:
        item: dict[str, Any] = {"content": text}
        if document_id:
            item["document_id"] = document_id
        items.append(item)
    items.extend(read_file_item(path) for path in expand_paths(files))
    if not items:
        raise InputError("nothing to retain: give TEXT, '-' for stdin, or --files")
    for item in items:
        if context:
            item["context"] = context
        if tags:
            item["tags"] = list(tags)
    return items


def payload_bytes(items: list[dict[str, Any]]) -> int:
    return sum(len(item["content"].encode()) for item in items)


def over_sync_guideline(items: list[dict[str, Any]]) -> bool:
    return len(items) > SYNC_MAX_ITEMS or payload_bytes(items) > SYNC_MAX_BYTES


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for start in range(0, len(items), size):
        yield start, items[start : start + size]
