"""Documents to text, and text to memory-sized parts: what ``file_retain`` does with each file.

Extraction uses maintained libraries made for each format -- pypdf (PDF), python-docx (DOCX),
html2text (HTML, which drops scripts and styles and keeps headings as Markdown ``#`` lines) --
and never parses a format by hand. Uploaded files are untrusted input, so every extraction is
bounded: a wall-clock deadline checked between pages and paragraphs, a cap on the characters
of text it may yield, a cap on the pages a PDF declares (read before its page tree is walked:
a 10,000-page PDF is refused at once) and, for DOCX (a zip), a cap on the unpacked size read
from the archive directory before anything is inflated. Whatever the
libraries raise on a malformed file becomes an ``ExtractionError`` with a message fit for the
operation's ``failed_items``: a bad file never takes the rest of the operation down with it.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

# Kind of document by file extension; the content type decides only when the name has none.
KINDS_BY_EXTENSION: dict[str, str] = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx", ".json": "json",
    ".csv": "csv",
}
KINDS_BY_CONTENT_TYPE: dict[str, str] = {
    "text/plain": "text", "text/markdown": "markdown", "text/html": "html",
    "application/pdf": "pdf", "application/json": "json", "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
SUPPORTED_EXTENSIONS = ", ".join(sorted(KINDS_BY_EXTENSION))


class ExtractionError(Exception):
    """This file cannot become text; the message says why (one ``failed_items`` entry)."""


@dataclass(frozen=True)
class Limits:
    deadline: float  # time.monotonic() value
    max_chars: int
    max_unpacked_bytes: int
    max_pages: int
    seconds: float  # the per-file limit the deadline came from, for the message


@dataclass(frozen=True)
class Extracted:
    text: str
    kind: str
    pages: int | None = None  # PDF only


def file_kind(name: str, content_type: str = "") -> str:
    """The document kind of ``name``; ``ExtractionError`` for a type we do not read."""
    extension = PurePosixPath(name).suffix.lower()
    if extension in KINDS_BY_EXTENSION:
        return KINDS_BY_EXTENSION[extension]
    if not extension:
        kind = KINDS_BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower())
        if kind:
            return kind
    shown = extension or f"no extension ({content_type or 'no content type'})"
    raise ExtractionError(f"unsupported file type {shown}; supported: {SUPPORTED_EXTENSIONS}")


class _Text:
    """Collects extracted pieces under the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pieces: list[str] = []
        self.chars = 0

    def check_time(self, where: str) -> None:
        if time.monotonic() > self.limits.deadline:
            raise ExtractionError(
                f"extraction stopped at {where}: over HINDSIGHT_FILE_TIME_LIMIT "
                f"({self.limits.seconds:g} s per file)"
            )

    def add(self, piece: str) -> None:
        self.chars += len(piece) + 2
        if self.chars > self.limits.max_chars:
            raise ExtractionError(
                f"the file yields more than HINDSIGHT_MAX_FILE_TEXT_CHARS "
                f"({self.limits.max_chars} characters) of text"
            )
        self.pieces.append(piece)

    def joined(self) -> str:
        return "\n\n".join(piece.strip() for piece in self.pieces if piece.strip())


def extract_text(data: bytes, kind: str, limits: Limits) -> Extracted:
    """The text of a document of ``kind`` (see ``file_kind``), within ``limits``."""
    reader = _READERS[kind]
    try:
        extracted = reader(data, limits)
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # untrusted input: any library error is this file's failure
        message = str(exc).strip() or type(exc).__name__
        raise ExtractionError(f"cannot read this {kind.upper()} file: {message[:300]}") from exc
    return replace(extracted, text=_storable(extracted.text))


def _storable(text: str) -> str:
    """Without NUL (PostgreSQL text refuses it) and unpaired surrogates (not UTF-8), which PDF
    text extraction can produce."""
    text = text.replace("\x00", "")
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise ExtractionError("not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None


def _plain(data: bytes, limits: Limits, kind: str) -> Extracted:
    text = _Text(limits)
    text.add(_decode(data))
    return Extracted(text.joined(), kind)


def _text(data: bytes, limits: Limits) -> Extracted:
    return _plain(data, limits, "text")


def _markdown(data: bytes, limits: Limits) -> Extracted:
    return _plain(data, limits, "markdown")


def _csv(data: bytes, limits: Limits) -> Extracted:
    return _plain(data, limits, "csv")


def _json(data: bytes, limits: Limits) -> Extracted:
    raw = _decode(data)
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ExtractionError(f"not valid JSON: {exc}") from None
    # Indented, so that the splitter finds line boundaries in a one-line document.
    text = _Text(limits)
    text.add(json.dumps(value, indent=2, ensure_ascii=False))
    return Extracted(text.joined(), "json")


def _html(data: bytes, limits: Limits) -> Extracted:
    import html2text

    try:
        markup = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        markup = data.decode("cp1252", errors="replace")
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no hard wrapping: paragraphs stay one line each
    converter.ignore_images = True
    converter.ignore_links = True  # link text stays, URLs go
    converter.ignore_emphasis = True
    text = _Text(limits)
    text.add(converter.handle(markup))
    return Extracted(text.joined(), "html")


def _pdf(data: bytes, limits: Limits) -> Extracted:
    from pypdf import PdfReader

    if b"%PDF-" not in data[:1024]:
        raise ExtractionError("not a PDF file (no %PDF- header)")
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise ExtractionError("the PDF is encrypted with a password")
    declared = _declared_pages(reader)
    if declared > limits.max_pages:
        raise ExtractionError(
            f"the PDF has {declared} pages, more than HINDSIGHT_MAX_FILE_PAGES "
            f"({limits.max_pages})"
        )
    pages = reader.pages
    count = len(pages)
    text = _Text(limits)
    for number, page in enumerate(pages, start=1):
        text.check_time(f"page {number} of {count}")
        text.add(page.extract_text() or "")
    return Extracted(text.joined(), "pdf", pages=count)


def _declared_pages(reader: Any) -> int:
    """The page count the document declares (``/Root /Pages /Count``): one lookup, where
    listing the pages walks the whole page tree -- seconds for 10,000 pages -- before any
    deadline could be checked."""
    count = reader.root_object["/Pages"].get_object().get("/Count", 0)
    return int(count.get_object() if hasattr(count, "get_object") else count)


def _docx(data: bytes, limits: Limits) -> Extracted:
    import docx
    from docx.table import Table

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ExtractionError("not a DOCX file (not a zip archive)")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # The directory's sizes bound what inflating can produce (zipfile stops at them).
        unpacked = sum(entry.file_size for entry in archive.infolist())
    if unpacked > limits.max_unpacked_bytes:
        raise ExtractionError(
            f"the DOCX unpacks to {unpacked} bytes, more than HINDSIGHT_MAX_FILE_UNPACKED_BYTES "
            f"({limits.max_unpacked_bytes})"
        )
    document = docx.Document(io.BytesIO(data))
    text = _Text(limits)
    for number, block in enumerate(document.iter_inner_content(), start=1):
        if number % 100 == 0:
            text.check_time(f"block {number}")
        if isinstance(block, Table):
            for row in block.rows:
                text.add(" | ".join(cell.text.strip() for cell in row.cells))
            continue
        content = block.text.strip()
        if content:
            text.add(_heading_prefix(block.style.name if block.style else "") + content)
    return Extracted(text.joined(), "docx")


def _heading_prefix(style: str) -> str:
    """Word's heading styles as Markdown heading marks, so the splitter cuts at them."""
    if style == "Title":
        return "# "
    match = re.fullmatch(r"Heading (\d)", style)
    return "#" * min(int(match.group(1)), 6) + " " if match else ""


_READERS = {"text": _text, "markdown": _markdown, "csv": _csv, "json": _json, "html": _html,
            "pdf": _pdf, "docx": _docx}

# --- Splitting ----------------------------------------------------------------------------------

_BLANK_LINES = re.compile(r"\n[ \t]*\n+")
_HEADING = re.compile(r"#{1,6} ")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_text(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` into parts of at most ``max_chars``: a Markdown heading always starts a
    new part; paragraphs (blank-line separated) are packed together while they fit; a paragraph
    too long on its own is cut at line ends, then sentence ends, then spaces, and a single
    word longer than the cap is cut where the cap falls."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    current: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            parts.append("\n\n".join(current))
        current, size = [], 0

    for block in _BLANK_LINES.split(text):
        block = block.strip()
        if not block:
            continue
        if _HEADING.match(block):
            flush()
        for piece in _cut(block, max_chars):
            if current and size + 2 + len(piece) > max_chars:
                flush()
            current.append(piece)
            size += len(piece) + (2 if size else 0)
    flush()
    return parts


def _cut(block: str, max_chars: int) -> list[str]:
    if len(block) <= max_chars:
        return [block]
    for separator, pattern in (("\n", re.compile(r"\n")), (" ", _SENTENCE_END),
                               (" ", re.compile(r"\s+"))):
        units = [unit for unit in pattern.split(block) if unit]
        if len(units) > 1:
            return _pack(units, separator, max_chars)
    return [block[start : start + max_chars] for start in range(0, len(block), max_chars)]


def _pack(units: list[str], separator: str, max_chars: int) -> list[str]:
    """Join consecutive units while they fit; a unit that never fits is cut further."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        if len(unit) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_cut(unit, max_chars))
        elif not current:
            current = unit
        elif len(current) + len(separator) + len(unit) <= max_chars:
            current += separator + unit
        else:
            pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return [piece.strip() for piece in pieces if piece.strip()]
