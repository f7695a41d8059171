"""Ctrl-C ends ``hindsight operations watch`` at once with exit 130 wherever it lands, even inside
the HTTP library's locks (issue 18): ``tests/cli/interrupt_points.py`` raises SIGINT at chosen
line events of the request path, one forked CLI process per point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from tests.cli.conftest import REPO, cli_env, running_operation, status_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quiet_sweeper"),
              pytest.mark.slow]
# Per point, far above the milliseconds an interrupted CLI needs: only a hang reaches it.
DEADLINE = "20"


def interrupt_points(url: str, operation, *options: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cli.interrupt_points", url, "demo", str(operation.pk),
         "--deadline", DEADLINE, *options],
        env=cli_env(url), cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def summary(results: list[dict]) -> str:
    codes = Counter(r["code"] for r in results)
    bad = [f"{r['point']} {r['location']} -> {r['code']} {r['stderr']!r}" for r in results
           if r["code"] != 130 or len(r["stderr"].splitlines()) != 1]
    return f"{len(results)} points, exit codes {dict(codes)}; wrong:\n" + "\n".join(bad[:40])


def test_sigint_anywhere_in_the_request_path_exits_130_without_closing_the_pool(
    demo_bank, live_server
):
    """Without the executable's watchdog, so the normal path alone must get out: points inside
    httpcore's pool locks used to hang in ``client.close()``."""
    op = running_operation(demo_bank, total=10)
    results = interrupt_points(live_server.url, op, "--no-guard")
    assert any("_synchronization.py" in r["location"] for r in results), summary(results)
    assert all(r["code"] == 130 for r in results), summary(results)
    for r in results:
        assert "Traceback" not in r["stderr"], r
        assert len(r["stderr"].splitlines()) == 1, summary(results)
    assert status_of(op) == "running"


def test_the_executable_exits_130_even_when_the_interrupt_path_itself_hangs(
    demo_bank, live_server
):
    """The watchdog of ``hindsight_cli.interrupts``: the normal path is made to block forever
    after the interrupt; the process still ends with 130 and one line on stderr."""
    op = running_operation(demo_bank, total=10)
    results = interrupt_points(live_server.url, op, "--stuck", "--points", "5", "500", "1500")
    assert [r["code"] for r in results] == [130, 130, 130], summary(results)
    assert all(r["stderr"] == "interrupted\n" for r in results), summary(results)
