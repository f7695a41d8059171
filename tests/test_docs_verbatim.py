"""README.md and every docs/*.md page, as a newcomer runs them: each shell or Python block marked
``<!-- run -->`` runs as written, in page order and in one bash session per page (variables such
as ``$OP`` carry over), against a server started by ``make run`` on a fresh data directory. The
only change to the text is the server's address (a free port instead of 8888, so that the suite
never meets a server someone left running).

The session has the newcomer's environment: a fresh ``$HOME``, a ``PATH`` without the project's
``.venv/bin`` (so ``hindsight`` is found only because the README's ``make install`` put it there)
and the repository as working directory. A command that exits non-zero is reported by an ``ERR``
trap; the only ones allowed are those the page itself announces with ``# exit N``.

Every other shell or Python block of these pages must say who runs it: ``<!-- snippet: name -->``
(tests/cli/test_docs_snippets.py), ``<!-- run by tests/... -->`` or ``<!-- not run: why -->``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOC_URLS = ("http://127.0.0.1:8888", "http://localhost:8888")
BLOCK = re.compile(r"^(?P<marker>[^\n]*)\n```(?P<lang>bash|sh|console|python)\n(?P<body>.*?)^```$",
                   re.M | re.S)
MARKER = re.compile(r"^<!-- (run|not run: .+|snippet: [\w-]+|run by (?P<test>tests/\S+)) -->$")
SEPARATOR = "::block::"
FAILED = re.compile(r"^::exit (\d+):: (.*)$", re.M)
ANNOUNCED = re.compile(r"#\s*exit (\d+)\b")


@dataclass
class Block:
    page: Path
    marker: str
    lang: str
    body: str

    def commands(self) -> str:
        if self.lang != "console":
            return self.body
        # A console block shows prompts and output: run the prompted lines only.
        return "".join(line[2:] + "\n" for line in self.body.splitlines() if line.startswith("$ "))


def blocks(page: Path) -> list[Block]:
    found = BLOCK.finditer(page.read_text())
    return [Block(page, m["marker"], m["lang"], m["body"]) for m in found]


def runnable(page: Path) -> list[Block]:
    return [block for block in blocks(page) if block.marker == "<!-- run -->"]


def test_every_shell_and_python_block_says_who_runs_it():
    for page in PAGES:
        for block in blocks(page):
            found = MARKER.match(block.marker)
            where = f"{page.relative_to(ROOT)}: block starting {block.body[:60]!r}"
            assert found, f"{where} has no <!-- run --> / <!-- not run: why --> marker"
            if found["test"]:
                assert (ROOT / found["test"]).is_file(), where


def script(page: Path, url: str) -> str:
    parts = ["trap 'echo \"::exit $?:: $BASH_COMMAND\" >&2' ERR"]
    for block in runnable(page):
        parts.append(f"echo {SEPARATOR}; echo {SEPARATOR} >&2")
        if block.lang == "python":
            parts.append(f"{sys.executable} - <<'HINDSIGHT_PY'\n{block.body}HINDSIGHT_PY")
        else:
            parts.append(block.commands())
    text = "\n".join(parts)
    for doc_url in DOC_URLS:
        text = text.replace(doc_url, url)
    return text


def announced_exits(page: Path) -> dict[str, int]:
    """``command  # exit N ...`` lines of the page: the command and the code it announces."""
    found = {}
    for block in runnable(page):
        for line in block.commands().splitlines():
            match = ANNOUNCED.search(line)
            if match:
                found[line.split("#")[0].strip()] = int(match.group(1))
    return found


@dataclass
class Server:
    url: str
    home: Path
    data: Path
    log: Path
    process: subprocess.Popen


@pytest.fixture
def make_run(tmp_path):
    """``make run`` as a newcomer starts it, on a free port and a fresh data directory."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HINDSIGHT_", "SECRET_KEY", "DATABASE_URL", "DJANGO_"))}
    env.update(HOME=str(home), HINDSIGHT_DATA_DIR=str(data))
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        # -o: the test's own venv is the one make would (re)install; never reinstall it here.
        process = subprocess.Popen(["make", "-o", ".venv/.installed", "run", f"PORT={port}"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    server = Server(url, home, data, log, process)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_page(page: Path, server: Server) -> tuple[list[str], list[str], list[tuple[int, str]]]:
    """Run the page's blocks; stdout and stderr per block, and every failed command."""
    path = ":".join([str(server.home / ".local" / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {"HOME": str(server.home), "PATH": path, "LANG": "C.UTF-8", "TERM": "dumb",
           "HINDSIGHT_DATA_DIR": str(server.data), "HINDSIGHT_API_URL": server.url}
    done = subprocess.run(["bash", "-c", script(page, server.url)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    out = done.stdout.split(SEPARATOR + "\n")[1:]
    err = done.stderr.split(SEPARATOR + "\n")[1:]
    assert len(out) == len(err) == len(runnable(page)), done.stdout + done.stderr
    failed = [(int(code), command) for code, command in FAILED.findall(done.stderr)]
    return out, err, failed


def check_failures(page: Path, failed: list[tuple[int, str]], err: list[str]) -> None:
    """Only the announced non-zero exits happened, and nothing printed a traceback."""
    announced = announced_exits(page)
    unexpected = [(code, cmd) for code, cmd in failed if announced.get(cmd.strip()) != code]
    assert not unexpected, (unexpected, err)
    assert not [e for e in err if "Traceback" in e], err


def test_make_run_prints_no_recipe(make_run):
    text = make_run.log.read_text()
    assert f"Hindsight on {make_run.url}" in text
    for recipe in ("manage.py", "if [", "exec ", "SECRET_KEY_FILE"):
        assert recipe not in text, text


def test_the_makefile_says_each_comment_once():
    comments = [line for line in (ROOT / "Makefile").read_text().splitlines()
                if line.startswith("# ")]
    assert len(comments) == len(set(comments)), sorted(c for c in comments
                                                       if comments.count(c) > 1)


def progress_of(lines: list[str], op: str) -> list[tuple[str, int]]:
    """``(status, progress)`` of every line ``hindsight operations watch`` printed for ``op``."""
    found = []
    for line in lines:
        match = re.match(rf"^{op} (\w+) ([\d,]+) / 10,000 \(", line)
        if match:
            found.append((match.group(1), int(match.group(2).replace(",", ""))))
    return found


def test_readme_runs_as_written(make_run):
    page = ROOT / "README.md"
    out, err, failed = run_page(page, make_run)
    check_failures(page, failed, err)
    install, watch, cancel_retry, bulk_cancel, cli, official_client, manage = range(7)
    assert [b.lang for b in runnable(page)] == ["bash"] * 5 + ["python", "bash"]

    assert "installed" in out[install] and (make_run.home / ".local/bin/hindsight").exists()

    # Quick start: the first batch's progress is seen climbing to the end, then read back in a
    # few lines (not its 10,000 memory ids).
    first = re.search(r'"operation_id":\s*"([0-9a-f-]{36})"', out[watch]).group(1)
    seen = progress_of(out[watch].splitlines(), first)
    assert seen[-1] == ("completed", 10000), out[watch]
    climbing = [progress for status, progress in seen if status == "running"]
    assert len(climbing) >= 2 and climbing == sorted(climbing), out[watch]
    assert re.search(r"^progress\s+10,000 / 10,000 \(100%\)$", out[watch], re.M), out[watch]
    assert len(out[watch]) < 20_000

    # The second one is cancelled part-way, retried, and resumes to the end.
    cancelled = re.search(r"operation (\S+) cancelled at ([\d,]+) / 10,000",
                          out[cancel_retry])
    assert cancelled and int(cancelled.group(2).replace(",", "")) < 10000, out[cancel_retry]
    assert f"operation {cancelled.group(1)} queued for retry" in out[cancel_retry]
    resumed = progress_of(out[cancel_retry].splitlines(), cancelled.group(1))
    assert resumed[-1] == ("completed", 10000), out[cancel_retry]
    assert '"cancelled":' in out[bulk_cancel]

    assert re.search(r"^1\.000 ", out[cli], re.M), out[cli]  # normalised recall scores
    with httpx.Client(base_url=make_run.url) as client:
        bank = client.get("/api/banks/demo/").json()
    assert bank["memory_count"] >= 20000  # both batches, none twice

    # The official client closes its session: nothing on stderr.
    assert err[official_client] == "" and out[official_client] == "Alice likes tea\n"

    assert "Cancelled 0 operations; 1 was already finished." in out[manage]


@pytest.mark.parametrize(
    "page", [p for p in PAGES if p.name != "README.md" and runnable(p)], ids=lambda p: p.name
)
def test_doc_page_runs_as_written(page, make_run):
    install = subprocess.run(["make", "-o", ".venv/.installed", "install"], cwd=ROOT,
                             env={**os.environ, "HOME": str(make_run.home)},
                             capture_output=True, text=True, check=True)
    assert shutil.which("hindsight", path=str(make_run.home / ".local/bin")), install.stdout
    _, err, failed = run_page(page, make_run)
    check_failures(page, failed, err)
