"""The CLI shows an operation waiting for its automatic retry: when, which retry, and why."""

from __future__ import annotations

import re

from operations import transitions
from tests.cli.conftest import WORKER, running_operation


def test_get_shows_retrying_in_n_seconds_with_the_attempt_and_error(demo_bank, cli,
                                                                    quiet_sweeper):
    op = running_operation(demo_bank, total=10)
    assert transitions.defer(op.pk, WORKER, "database is locked", "OperationalError", 120)
    result = cli("operations", "get", "demo", str(op.pk))
    assert result.code == 0, result.stderr
    assert re.search(r"retrying in (1[01]\d|120) s \(attempt 1\): OperationalError: database "
                     r"is locked", result.stdout), result.stdout
