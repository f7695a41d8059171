"""The dashboard's SQL (time buckets and durations differ per database) gives the same
figures on PostgreSQL: tests/operations/test_dashboard.py again, in a subprocess whose
``DATABASE_URL`` points at the throwaway PostgreSQL the suite starts (``tests.servers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dashboard_figures_are_the_same_on_postgresql(postgres_url):
    env = {**os.environ, "DATABASE_URL": postgres_url}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
         "tests/operations/test_dashboard.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
