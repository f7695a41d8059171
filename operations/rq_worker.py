"""The RQ worker class for operations: a plain ``manage.py rqworker`` uses it
(``settings.RQ["WORKER_CLASS"]``).

It is RQ's forking worker plus the sweeper thread (``operations.sweeper``), which runs a
liveness pass at worker start and every ``HINDSIGHT_SWEEP_INTERVAL`` seconds: every worker reaps
operations whose heartbeat went stale, so a dead worker is noticed by any survivor within
``HINDSIGHT_STALE_AFTER`` -- not after RQ's own maintenance interval, and by the API process's
sweeper even when no worker is alive. A worker also takes over, within one sweep, operations
whose work-horse on the same machine has died (``workers.recover_dead_owners``): a killed process
needs no heartbeat timeout.
"""

from __future__ import annotations

from rq.worker import Worker

from .deliveries import DeliveryLoop
from .rq_executor import OWNER_KIND, RQExecutor


class HindsightWorker(Worker):
    def work(self, *args: object, **kwargs: object) -> bool:
        # Started in the parent worker only; a forked work-horse has no copy of this thread.
        sweeper = RQExecutor().sweeper(f"hindsight-sweeper-{self.name}", owner_kind=OWNER_KIND)
        sweeper.start()
        deliveries = DeliveryLoop(f"hindsight-webhooks-{self.name}")  # webhooks (issue 14)
        deliveries.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            sweeper.stop()
            deliveries.stop()
