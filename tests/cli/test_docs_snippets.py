"""The Python snippets of docs/cli.md run verbatim against a live server, in page order and in
one namespace (they build on each other); the CLI examples parse with the real parser."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from banks.models import Memory
from hindsight_cli.main import build_parser
from tests.cli.conftest import status_of
from tests.factories import make_bank, submit_retain

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```python\n(.*?)```", re.S)
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quiet_sweeper")]


def snippets() -> dict[str, str]:
    return dict(SNIPPET.findall(DOC.read_text()))


def run(name: str, namespace: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippets()[name], f"docs/cli.md:{name}", "exec"), namespace)
    return out.getvalue()


def test_the_page_has_the_documented_snippets():
    assert list(snippets()) == ["start-async", "poll-loop", "list-filter-paginate",
                                "cancel-pending", "wait-helper", "recall"]


def test_operation_snippets_run_verbatim(live_server, monkeypatch):
    monkeypatch.setenv("HINDSIGHT_API_URL", live_server.url)
    monkeypatch.delenv("HINDSIGHT_API_KEY", raising=False)
    namespace: dict = {}

    printed = run("start-async", namespace)
    op_id = namespace["operation_id"]
    assert printed == f"{op_id} pending\n"

    printed = run("poll-loop", namespace).splitlines()
    assert printed[-2] == "completed: 1000/1000"
    assert printed[-1] == "1000 memories stored"
    assert Memory.objects.filter(operation_id=op_id).count() == 1000

    bank = make_bank("my-bank")
    for _ in range(24):  # enough for a second page
        submit_retain(bank, 1)
    printed = run("list-filter-paginate", namespace).splitlines()
    assert printed == ["1 completed operations on the first page",
                       "25 operations in all, newest first"]
    assert len(set(namespace["seen"])) == 25

    pending = [submit_retain(bank, 1) for _ in range(3)]
    printed = run("cancel-pending", namespace)
    assert printed == "cancelled 27, already finished 0\n"
    assert {status_of(p) for p in pending} == {"cancelled"}

    printed = run("wait-helper", namespace)
    assert printed == "2 stored, 0 failed\n"
    assert Memory.objects.filter(operation_id=namespace["submitted"]["operation_id"]).count() == 2


def test_recall_snippet_runs_verbatim(live_server, monkeypatch):
    monkeypatch.setenv("HINDSIGHT_API_URL", live_server.url)
    namespace: dict = {}
    run("start-async", namespace)
    printed = run("recall", namespace).splitlines()
    assert printed[0].startswith("['")
    assert any("Carol moved to Lisbon in 2021." in line for line in printed[1:])


def cli_examples() -> list[str]:
    lines = []
    for block in BASH_BLOCK.findall(DOC.read_text()):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("hindsight "):
                lines.append(line)
            elif "$(hindsight " in line:
                lines.append(line[line.index("$(") + 2 : line.rindex(")")])
    return lines


def test_every_cli_example_in_the_docs_parses():
    examples = cli_examples()
    assert len(examples) >= 12
    parser = build_parser()
    for example in examples:
        args = parser.parse_args(shlex.split(example.replace("$OP", "op-id"))[1:])
        assert callable(args.handler), example
