"""``banks.documents``: text out of real PDF, DOCX, HTML, JSON, CSV and text files, bounded in
time and size, and split at headings and paragraphs."""

from __future__ import annotations

import time

import pytest

from banks.documents import (
    ExtractionError,
    Limits,
    extract_text,
    file_kind,
    split_text,
)
from tests.documents import (
    SCRIPT_SECRET,
    STYLE_SECRET,
    make_blank_pdf,
    make_docx,
    make_html,
    make_pdf,
    make_zip_bomb_docx,
)


def limits(seconds: float = 30.0, max_chars: int = 1_000_000, max_pages: int = 5000,
           max_unpacked: int = 50 * 1024 * 1024) -> Limits:
    return Limits(deadline=time.monotonic() + seconds, seconds=seconds, max_chars=max_chars,
                  max_pages=max_pages, max_unpacked_bytes=max_unpacked)


def test_pdf_text_comes_out_page_by_page():
    data = make_pdf(["Alice met Bob in Paris.", "The second page talks about Lyon."])
    extracted = extract_text(data, "pdf", limits())
    assert extracted.pages == 2
    assert "Alice met Bob in Paris." in extracted.text
    assert extracted.text.index("Paris") < extracted.text.index("Lyon")


def test_a_file_that_claims_to_be_a_pdf_and_is_not_is_an_extraction_error():
    with pytest.raises(ExtractionError, match="not a PDF file"):
        extract_text(b"just some text", "pdf", limits())


def test_a_truncated_pdf_is_an_extraction_error_not_a_crash():
    data = make_pdf(["Some text on a page."])
    with pytest.raises(ExtractionError, match="PDF"):
        extract_text(data[: len(data) // 3], "pdf", limits())


def test_a_pdf_with_10000_pages_is_refused_before_its_pages_are_walked():
    data = make_blank_pdf(10_000)
    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"10000 pages, more than HINDSIGHT_MAX_FILE_PAGES"):
        extract_text(data, "pdf", limits(max_pages=5000))
    assert time.monotonic() - started < 3  # listing the pages alone takes seconds


def test_pdf_extraction_stops_at_the_time_limit():
    data = make_pdf([f"Page {i} text." for i in range(40)])
    with pytest.raises(ExtractionError, match=r"stopped at page \d+ of 40: over HINDSIGHT_FILE"):
        extract_text(data, "pdf", limits(seconds=0.0))


def test_pdf_extraction_stops_at_the_text_cap():
    data = make_pdf([("Alice met Bob in Paris. " * 40) for _ in range(20)])
    with pytest.raises(ExtractionError, match="more than HINDSIGHT_MAX_FILE_TEXT_CHARS"):
        extract_text(data, "pdf", limits(max_chars=5000))


def test_docx_headings_become_markdown_headings_and_tables_rows():
    data = make_docx([("Quarterly report", ["Revenue grew.", "Costs fell."]),
                      ("Risks", ["Supply delays."])],
                     table=[["region", "sales"], ["north", "12"]])
    text = extract_text(data, "docx", limits()).text
    assert "# Quarterly report\n\nRevenue grew.\n\nCosts fell.\n\n# Risks" in text
    assert "region | sales\n\nnorth | 12" in text


def test_a_zip_bomb_docx_is_refused_from_its_directory():
    data = make_zip_bomb_docx(64 * 1024 * 1024)
    assert len(data) < 1024 * 1024
    started = time.monotonic()
    with pytest.raises(ExtractionError, match="more than HINDSIGHT_MAX_FILE_UNPACKED_BYTES"):
        extract_text(data, "docx", limits(max_unpacked=16 * 1024 * 1024))
    assert time.monotonic() - started < 2


def test_a_docx_that_is_not_a_zip_is_an_extraction_error():
    with pytest.raises(ExtractionError, match="not a DOCX file"):
        extract_text(b"PK but not really", "docx", limits())


def test_html_scripts_and_styles_never_reach_the_text():
    text = extract_text(make_html("Guide", ["Hello <b>world</b>.", "Bye."]), "html",
                        limits()).text
    assert text == "# Guide\n\nHello world.\n\nBye."
    assert SCRIPT_SECRET not in text and STYLE_SECRET not in text


def test_json_is_checked_and_indented_for_splitting():
    assert extract_text(b'{"a": [1, 2]}', "json", limits()).text == (
        '{\n  "a": [\n    1,\n    2\n  ]\n}')
    with pytest.raises(ExtractionError, match="not valid JSON"):
        extract_text(b"{oops", "json", limits())


def test_text_must_be_utf8_without_nul():
    assert extract_text("caf\u00e9".encode(), "text", limits()).text == "caf\u00e9"
    with pytest.raises(ExtractionError, match="not UTF-8 text"):
        extract_text(b"\xff\xfebad"[2:] + b"\xff", "text", limits())
    with pytest.raises(ExtractionError, match="NUL"):
        extract_text(b"a\x00b", "markdown", limits())


@pytest.mark.parametrize(("name", "content_type", "kind"), [
    ("report.PDF", "", "pdf"), ("notes.md", "application/octet-stream", "markdown"),
    ("page.htm", "", "html"), ("data.csv", "", "csv"), ("README", "text/plain", "text"),
])
def test_the_kind_comes_from_the_extension_then_the_content_type(name, content_type, kind):
    assert file_kind(name, content_type) == kind


def test_an_unsupported_type_names_what_is_supported():
    with pytest.raises(ExtractionError, match=r"unsupported file type \.exe; supported: .*\.pdf"):
        file_kind("setup.exe", "application/octet-stream")


def test_split_starts_a_part_at_every_heading_and_packs_paragraphs():
    text = "# One\n\nshort a\n\nshort b\n\n## Two\n\nshort c"
    assert split_text(text, 100) == ["# One\n\nshort a\n\nshort b", "## Two\n\nshort c"]


def test_split_keeps_every_part_under_the_cap_and_loses_no_word():
    paragraph = " ".join(f"word{i}." for i in range(400))
    text = f"# Title\n\n{paragraph}\n\nline one\nline two\n\n" + "x" * 450
    parts = split_text(text, 200)
    assert all(len(part) <= 200 for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_split_of_blank_text_is_empty():
    assert split_text(" \n\n \n", 100) == []
