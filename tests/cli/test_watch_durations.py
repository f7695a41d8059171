"""``watch`` reports how long the operation took on the server (started -> completed) and how
long it waited for a worker (created -> started), not how long the CLI happened to watch."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from operations import transitions
from operations.models import Operation
from tests.cli.conftest import WORKER, running_operation


def test_watch_of_a_finished_operation_shows_its_run_and_queue_times(cli, demo_bank):
    op = running_operation(demo_bank, total=5)
    assert transitions.complete(op.pk, WORKER)
    now = timezone.now()
    Operation.objects.filter(pk=op.pk).update(
        created_at=now - timedelta(seconds=200), started_at=now - timedelta(seconds=185),
        completed_at=now - timedelta(seconds=5),
    )
    result = cli("operations", "watch", "demo", str(op.pk))
    assert result.code == 0
    assert result.stdout == (
        f"{op.pk} completed 0 / 5 (0%) in 3 m 00 s after 15 s queued, 0 failed\n"
    )


def test_the_cli_and_manage_py_write_progress_the_same_way(cli, demo_bank):
    """One formatting module for both: ``450 / 1,000 (45%)`` on every surface."""
    from io import StringIO

    from django.core.management import call_command

    op = running_operation(demo_bank, total=1000)
    Operation.objects.filter(pk=op.pk).update(progress=450)
    shown = cli("operations", "get", "demo", str(op.pk)).stdout
    out = StringIO()
    call_command("operations", "get", str(op.pk), stdout=out)
    assert "450 / 1,000 (45%)" in shown and "450 / 1,000 (45%)" in out.getvalue()
