"""gunicorn configuration of ``make run`` (``gunicorn -c python:hindsight_project.gunicorn_conf``).

One process per core (``HINDSIGHT_WEB_PROCESSES``, default: the machine's cores), each with
gthread threads. Every process runs the embedded executor (exactly-once comes from the claim
compare-and-set, not from there being a single process). The master creates the executors'
*doorbell* before forking -- a Linux eventfd in semaphore mode, inherited by every worker -- so
that a process whose executor threads are all busy can hand a just-committed operation to a
process with a free one (``operations.executor``). The fd number reaches the workers through
``HINDSIGHT_DOORBELL_FD``, set here before the settings are first imported.
"""

from __future__ import annotations

import os

if hasattr(os, "eventfd") and "HINDSIGHT_DOORBELL_FD" not in os.environ:
    _doorbell = os.eventfd(0, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
    os.set_inheritable(_doorbell, True)
    os.environ["HINDSIGHT_DOORBELL_FD"] = str(_doorbell)

from hindsight_project import settings  # reads the environment set above

workers = settings.HINDSIGHT_WEB_PROCESSES
worker_class = "gthread"
# Each thread serves one request at a time; long-polls park without a thread beyond
# HINDSIGHT_MAX_WAITERS (see operations.services.wait_for_change).
threads = settings.HINDSIGHT_WEB_THREADS
timeout = 120
graceful_timeout = 30
keepalive = 5
