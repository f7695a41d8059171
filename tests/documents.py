"""Real documents for the file tests and bench/files.py, made by libraries at run time: PDFs
with fpdf2 (pypdf, the reader, cannot lay out text) or pypdf's writer (page counts), DOCX with
python-docx, HTML with scripts and styles that must never reach a memory."""

from __future__ import annotations

import io
import zipfile

import docx
from fpdf import FPDF
from pypdf import PdfWriter

SCRIPT_SECRET = "SCRIPT-SECRET-42"
STYLE_SECRET = "STYLE-SECRET-42"


def make_pdf(pages: list[str]) -> bytes:
    """One page per string; paragraphs (blank-line separated) as separate text blocks."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        for paragraph in text.split("\n\n"):
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(6)
    return bytes(pdf.output())


def make_blank_pdf(pages: int) -> bytes:
    """A valid PDF of ``pages`` empty pages (cheap at any count)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(sections: list[tuple[str, list[str]]], table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb_docx(unpacked_bytes: int) -> bytes:
    """A real DOCX plus one highly compressible part: small on the wire, huge once inflated."""
    out = io.BytesIO(make_docx([("Title", ["text"])]))
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        chunk = b"\0" * (1024 * 1024)
        with archive.open("word/media/bomb.bin", "w", force_zip64=True) as part:
            for _ in range(unpacked_bytes // len(chunk)):
                part.write(chunk)
    return out.getvalue()


def make_html(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!doctype html><html><head><title>t</title>"
        f"<style>body {{ font-family: '{STYLE_SECRET}'; }}</style>"
        f"<script>var token = '{SCRIPT_SECRET}';</script></head>"
        f"<body><h1>{title}</h1>{body}"
        f"<script type='module'>console.log('{SCRIPT_SECRET}')</script></body></html>"
    ).encode()
