"""File upload benchmark (embedded default): a 200-page PDF and 1,000 Markdown files uploaded to
a server started exactly like ``make run``, against the same text retained through
``batch_retain`` in the same run (the baseline: same memories, no upload, no extraction).

    .venv/bin/python bench/files.py [--pages 200] [--docs 1000] [--runs 3] [--url http://...]

Prints, best of ``--runs`` on each side: PDF pages/s (upload -> operation completed), Markdown
documents/s (all uploads -> all operations completed; the CLI's 100 files per request), the
baseline's memories/s for the same memory texts through one async ``batch_retain``, and the
ratio of the two elapsed times (file_retain / batch_retain: the cost of upload, storage of the
bytes, extraction and splitting on top of storing the memories).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest import start_server  # a sibling script: bench/ is not a package

from banks.documents import Limits, extract_text, split_text
from tests.documents import make_pdf

TERMINAL = ("completed", "failed", "cancelled")
MEMORY_CHARS = 2000  # HINDSIGHT_FILE_MEMORY_CHARS default
FILES_PER_REQUEST = 100
PROSE = ("Alice met Bob in Paris to review the Acme contract. The discussion covered pricing, "
         "delivery dates and support, and everyone agreed to follow up by email.")


def make_pages(count: int) -> list[str]:
    return ["\n\n".join(f"Page {page}, paragraph {p}. {PROSE} {PROSE}" for p in range(5))
            for page in range(count)]


def make_markdown(count: int) -> list[tuple[str, bytes]]:
    docs = []
    for i in range(count):
        body = "\n\n".join([f"# Note {i}", PROSE, f"## Details {i}", PROSE + " " + PROSE])
        docs.append((f"note-{i:04}.md", body.encode()))
    return docs


def parts_of(name: str, data: bytes) -> list[str]:
    """The memory texts file_retain makes of a file (same functions, same defaults)."""
    kind = "pdf" if name.endswith(".pdf") else "markdown"
    limits = Limits(deadline=time.monotonic() + 600, seconds=600, max_chars=10**9,
                    max_pages=10**6, max_unpacked_bytes=10**9)
    return split_text(extract_text(data, kind, limits).text, MEMORY_CHARS)


def wait_all(client: httpx.Client, locations: list[str]) -> list[dict]:
    done: dict[str, dict] = {}
    while len(done) < len(locations):
        for location in locations:
            if location not in done:
                op = client.get(location).json()
                if op["status"] in TERMINAL:
                    done[location] = op
        time.sleep(0.05)
    return [done[location] for location in locations]


def upload(client: httpx.Client, bank: str, files: list[tuple[str, bytes]]) -> tuple[float, list]:
    started = time.monotonic()
    locations = []
    for start in range(0, len(files), FILES_PER_REQUEST):
        part = files[start : start + FILES_PER_REQUEST]
        response = client.post(f"/api/banks/{bank}/files/", data={"async": "true"},
                               files=[("files", (name, data)) for name, data in part])
        response.raise_for_status()
        locations.append(response.headers["Location"])
    ops = wait_all(client, locations)
    return time.monotonic() - started, ops


def retain(client: httpx.Client, bank: str, texts: list[str]) -> float:
    started = time.monotonic()
    response = client.post(f"/api/banks/{bank}/memories/",
                           json={"async": True, "contents": [{"content": t} for t in texts]})
    response.raise_for_status()
    wait_all(client, [response.headers["Location"]])
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="use a running server instead of starting one")
    args = parser.parse_args()

    pdf = ("report.pdf", make_pdf(make_pages(args.pages)))
    markdown = make_markdown(args.docs)
    pdf_texts = parts_of(*pdf)
    md_texts = [text for name, data in markdown for text in parts_of(name, data)]
    results: dict[str, list[float]] = {"pdf": [], "pdf_base": [], "md": [], "md_base": []}
    memories: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="hindsight-bench-") as tmp:
        proc, url = (None, args.url) if args.url else start_server(Path(tmp))
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                for run in range(args.runs):
                    elapsed, ops = upload(client, f"pdf-{run}", [pdf])
                    results["pdf"].append(elapsed)
                    memories["pdf"] = sum(op["result"]["memory_count"] for op in ops)
                    results["pdf_base"].append(retain(client, f"pdf-base-{run}", pdf_texts))
                    elapsed, ops = upload(client, f"md-{run}", markdown)
                    results["md"].append(elapsed)
                    memories["md"] = sum(op["result"]["memory_count"] for op in ops)
                    results["md_base"].append(retain(client, f"md-base-{run}", md_texts))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    best = {key: min(values) for key, values in results.items()}
    print(f"PDF: {args.pages} pages, {len(pdf[1]) // 1024} KB, {memories['pdf']} memories "
          f"(expected {len(pdf_texts)})")
    print(f"  file_retain:  {best['pdf']:.2f} s = {args.pages / best['pdf']:,.0f} pages/s   "
          f"(runs: {' / '.join(f'{v:.2f}' for v in results['pdf'])} s)")
    print(f"  batch_retain of the same {len(pdf_texts)} texts: {best['pdf_base']:.2f} s   "
          f"ratio file/batch = {best['pdf'] / best['pdf_base']:.2f}")
    print(f"Markdown: {args.docs} files, {memories['md']} memories (expected {len(md_texts)})")
    print(f"  file_retain:  {best['md']:.2f} s = {args.docs / best['md']:,.0f} docs/s   "
          f"(runs: {' / '.join(f'{v:.2f}' for v in results['md'])} s)")
    print(f"  batch_retain of the same {len(md_texts)} texts: {best['md_base']:.2f} s   "
          f"ratio file/batch = {best['md'] / best['md_base']:.2f}")


if __name__ == "__main__":
    main()
