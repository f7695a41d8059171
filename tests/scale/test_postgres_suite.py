"""The in-process behavioural tests of the state machine, the runner, the reaper and the
scheduler, run a second time against a real PostgreSQL cluster (a child pytest with
``DATABASE_URL`` pointing at it), so every compare-and-set, ``SKIP LOCKED`` sweep, advisory lock
and chunk transaction is proven on both databases."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.scale.stack import ROOT

pytestmark = pytest.mark.slow

CORE_TESTS = [
    "tests/operations/test_transitions.py",
    "tests/operations/test_runner.py",
    "tests/operations/test_reaper.py",
    "tests/operations/test_scheduling.py",
    "tests/banks/test_store.py",
]


def test_core_behaviour_tests_pass_on_postgresql(postgres_cluster):
    database_url = postgres_cluster.create_database("core_suite")
    env = {**os.environ, "DATABASE_URL": database_url, "HINDSIGHT_EXECUTOR": "embedded"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
         *CORE_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in summary and "failed" not in summary, summary
