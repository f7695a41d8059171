"""Fault injection for the scale-out tests, loaded into worker processes through the generic
``HINDSIGHT_JOB_MODULES`` setting. It replaces ``batch_retain`` with a subclass that behaves
identically except for items whose metadata asks for a fault:

- ``{"fault": "kill"}``: the process running the chunk SIGKILLs itself (a poison pill);
- ``{"fault": "hang"}``: the chunk sleeps for an hour (a worker that never acknowledges a cancel);
- ``{"fault": "slow:<seconds>"}``: the item takes that long (a batch long enough to act mid-run);
- ``{"fault": "gate:<name>"}``: the chunk waits until the test opens that gate (creates the file
  ``gate-<name>`` in ``HINDSIGHT_DATA_DIR``): runners held busy for exactly as long as a test
  needs, whatever the machine's speed;
- ``{"fault": "transient-once"}``: the chunk raises ``TransientError`` on the first run only;
- ``{"fault": "pgterm-once"}``: on the first run only, the chunk's PostgreSQL backend is
  terminated with ``pg_terminate_backend`` (a database restart or failover mid-chunk).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from banks.jobs.batch_retain import BatchRetainJob
from operations.exceptions import TransientError
from operations.registry import ChunkOutcome, register


class FaultInjectingBatchRetain(BatchRetainJob):
    def prepare_chunk(self, operation, state, start, limit, deadline):
        # Gates wait here, in the lock-free half: inside the chunk's write transaction they
        # would hold SQLite's one write lock and stop every other writer.
        for item in state.contents[start : start + limit]:
            fault = (item.get("metadata") or {}).get("fault", "")
            if fault.startswith("gate:"):
                gate = Path(settings.DATA_DIR) / f"gate-{fault.split(':', 1)[1]}"
                give_up = time.monotonic() + 600
                while not gate.exists() and time.monotonic() < give_up:
                    time.sleep(0.02)
        return super().prepare_chunk(operation, state, start, limit, deadline)

    def process_chunk(self, operation, state, start, limit, deadline,
                      prepared=None) -> ChunkOutcome:
        for item in state.contents[start : start + limit]:
            fault = (item.get("metadata") or {}).get("fault", "")
            if fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif fault == "hang":
                time.sleep(3600)
            elif fault.startswith("slow:"):
                time.sleep(float(fault.split(":", 1)[1]))
            elif fault == "transient-once" and operation.retry_count == 0:
                raise TransientError("injected transient fault")
            elif fault == "pgterm-once" and operation.retry_count == 0:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return super().process_chunk(operation, state, start, limit, deadline, prepared)


register(FaultInjectingBatchRetain())
