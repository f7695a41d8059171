"""The in-process behavioural tests of the state machine, the runner, the reaper and the
scheduler, run a second time against a real PostgreSQL cluster (a child pytest with
``DATABASE_URL`` pointing at it), so every compare-and-set, ``SKIP LOCKED`` sweep, advisory lock
and chunk transaction is proven on both databases."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.scale.stack import ROOT

pytestmark = pytest.mark.slow

SUITES = {
    # The state machine, the runner, the reaper, the scheduler and the memory store.
    "core": [
        "tests/operations/test_transitions.py",
        "tests/operations/test_runner.py",
        "tests/operations/test_reaper.py",
        "tests/operations/test_scheduling.py",
        "tests/banks/test_store.py",
    ],
    # The Hindsight-compatible surface through the official client, and the security suite's
    # database-facing part (keys, isolation, limits; the schema fuzzing is about HTTP, not the
    # database, and takes long): both used to run on SQLite only (issue 18).
    "compat": ["tests/compat"],
    # The read path's prepared SQL (status poll, conditional GET, list pages and cursors) is
    # built per database vendor from the model's fields: proven on both.
    "read": ["tests/operations/test_read_path.py", "tests/operations/test_listing.py"],
    "security": ["tests/security/test_apikeys.py", "tests/security/test_authentication.py",
                 "tests/security/test_isolation.py", "tests/security/test_limits.py",
                 "tests/security/test_official_client.py", "tests/security/test_production.py"],
}
OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)")


@pytest.mark.timeout(1800)  # a whole child suite, not one test
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_behaviour_tests_pass_on_postgresql(postgres_cluster, suite):
    """Everything passes and nothing is skipped: a skip here would be a test that silently
    stopped checking PostgreSQL."""
    database_url = postgres_cluster.create_database(f"{suite}_suite")
    env = {**os.environ, "DATABASE_URL": database_url, "HINDSIGHT_EXECUTOR": "embedded"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p",
         "no:warnings", *SUITES[suite]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    outcomes = {kind.rstrip("s") if kind.startswith("error") else kind: int(n)
                for n, kind in OUTCOME.findall(summary)}
    assert outcomes.get("passed", 0) > 0, summary
    assert set(outcomes) == {"passed"}, f"unexpected outcomes on PostgreSQL: {summary}\n" + (
        result.stdout[-4000:])
