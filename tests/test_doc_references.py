"""Every reference to the documentation resolves inside the repository: ``docs/<page>.md`` and
its section numbers (``docs/api.md 1.3``) in code, templates and docs, and the relative links of
the Markdown pages. Nothing points at files that are not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    path for pattern in ("*.md", "*.py", "*.html", "*.toml", "Makefile")
    for path in ROOT.rglob(pattern)
    if not {".venv", "data", ".git", "node_modules"} & set(path.relative_to(ROOT).parts)
]
REFERENCE = re.compile(r"docs/([\w-]+\.md)(?:,? (?:§|section )?(\d+(?:\.\d+)?)\b)?")
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")
OUTSIDE = re.compile(r"\bAPI\.md\b|\bDESIGN\.md\b|\bSTYLE\.md\b|\.\./shared")


def headings(page: Path) -> set[str]:
    return set(re.findall(r"^#{2,4} (\d+(?:\.\d+)?)\.? ", page.read_text(), re.M))


def test_every_docs_reference_names_an_existing_page_and_section():
    missing = []
    for source in SOURCES:
        for name, section in REFERENCE.findall(source.read_text(errors="replace")):
            page = ROOT / "docs" / name
            if not page.is_file():
                missing.append(f"{source.relative_to(ROOT)}: docs/{name}")
            elif section and section not in headings(page):
                missing.append(f"{source.relative_to(ROOT)}: docs/{name} {section}")
    assert not missing, missing


def test_markdown_links_resolve():
    broken = []
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in LINK.findall(page.read_text()):
            if not target.startswith("http") and not (page.parent / target).is_file():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_nothing_refers_to_documents_outside_the_repository():
    found = [str(source.relative_to(ROOT)) for source in SOURCES
             if source.name != Path(__file__).name
             and OUTSIDE.search(source.read_text(errors="replace"))]
    assert not found, found
