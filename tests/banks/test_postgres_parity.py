"""Recall, entities, observations and graph links behave the same on PostgreSQL: the same
behavioural modules, with their exact expectations, run again in a subprocess whose
``DATABASE_URL`` points at the throwaway PostgreSQL the suite starts (``tests.servers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "tests/banks/test_recall.py",
    "tests/banks/test_entities.py",
    "tests/banks/test_observations.py",
    "tests/banks/test_graph.py",
    "tests/banks/test_engine_api.py",
]


@pytest.mark.slow
def test_memory_engine_suite_passes_on_postgresql(postgres_url):
    env = {**os.environ, "DATABASE_URL": postgres_url}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
         *MODULES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
