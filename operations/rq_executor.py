"""The RQ transport (``HINDSIGHT_EXECUTOR=rq``): any number of ``manage.py rqworker`` processes
on any number of machines run operations; Redis only carries operation ids.

- One RQ job per operation, RQ job id = operation id. The queue only ever holds what the
  scheduler chose to start next (``wake``: as many as there are workers), so the order is fair
  across banks even though RQ's queue is FIFO; submitting wakes it on commit (see
  ``executor.dispatch_on_commit``), and so does every finishing job and every sweep. The job
  function is ``perform_operation``, which calls the same ``run_operation`` as the embedded
  executor. RQ's statuses never leave this module.
- ``job_timeout`` is ``HINDSIGHT_JOB_TIMEOUT`` (RQ's 180 s default would kill real ingests);
  results live in the database, so RQ keeps its own only ``HINDSIGHT_RQ_RESULT_TTL`` seconds.
- If Redis is down at submit, dispatch fails, the row stays ``pending`` and the sweeper (in the
  API process and in every worker) re-dispatches it once Redis answers: the outbox.
- A cancelled operation whose RQ job still executes ``HINDSIGHT_CANCEL_GRACE`` seconds after the
  cancel is stopped with RQ's stop-job command (it normally stops at its next chunk boundary).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import django_rq
import redis
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.worker import Worker

from . import scheduler
from .models import Operation
from .runner import run_operation
from .states import OperationStatus
from .sweeper import Sweeper
from .workers import worker_id

logger = logging.getLogger(__name__)

QUEUE_NAME = "default"
OWNER_KIND = "rq"  # worker ids of work-horses (operations.workers)
# RQ statuses meaning "already waiting in a queue": re-dispatching would only add a duplicate
# entry (harmless, claims are CAS, but it wastes a fork).
_WAITING = frozenset({JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED})
# How long after a cancel the fallback keeps checking whether the job still executes (one Redis
# read per such operation per sweep); a job stopped once is never looked at again.
_CANCEL_LOOKBACK = timedelta(minutes=10)
# Fair scheduling off: how many waiting operations one wake pours into the queue.
_FIFO_BATCH = 10_000


def perform_operation(operation_id: str) -> str | None:
    """The RQ job: run one operation in this work-horse. Returns what the runner reports; the
    database row, not this return value, is the result."""
    close_old_connections()
    try:
        return run_operation(operation_id, worker_id(OWNER_KIND))
    finally:
        # This worker is about to be free: hand the scheduler's next choice to the queue now
        # rather than at the next sweep.
        try:
            RQExecutor().wake()
        except Exception:
            logger.warning("wake after %s failed; the sweepers will", operation_id,
                           exc_info=True)
        connections.close_all()


class RQExecutor:
    """Dispatches operations to RQ through django-rq's queue configuration (``RQ_QUEUES``)."""

    name = "rq"

    def __init__(self) -> None:
        self._connection: redis.Redis | None = None
        self._lock = threading.Lock()
        self._sweeper: Sweeper | None = None

    # -- transport ---------------------------------------------------------------------------
    def connection(self) -> redis.Redis:
        """A Redis client with short socket timeouts and no retry backoff: a dead or unreachable
        Redis turns a dispatch into a quick error (and the outbox sweep) instead of a hung
        request."""
        with self._lock:
            if self._connection is None:
                timeout = settings.HINDSIGHT_REDIS_TIMEOUT
                self._connection = redis.Redis.from_url(
                    settings.RQ_QUEUES[QUEUE_NAME]["URL"],
                    socket_connect_timeout=timeout,
                    socket_timeout=timeout,
                    health_check_interval=30,
                    # One immediate retry (a pooled socket left dead by a Redis restart), no
                    # backoff: redis-py's default sleeps for seconds per command, which would
                    # stall submits and every sweep of an outage.
                    retry=Retry(NoBackoff(), 1),
                )
            return self._connection

    def queue(self) -> Queue:
        return django_rq.get_queue(
            QUEUE_NAME,
            connection=self.connection(),
            default_timeout=settings.HINDSIGHT_JOB_TIMEOUT,
            # We already dispatch on commit; the sweeper needs the enqueue to happen now so
            # that a dead Redis raises here.
            commit_mode="auto",
        )

    def dispatch(self, operation_id: str) -> None:
        """Enqueue the operation's one RQ job (id = operation id) unless it is already waiting.

        A job left ``started`` by a dead worker, or forgotten by a Redis that restarted empty, is
        enqueued again: the operation is pending in the database, so nobody runs it. The check
        and the enqueue are one Redis transaction (WATCH on the job's key), so sweepers of
        several processes re-dispatching at once after an outage leave one queue entry, not one
        each. Raises on a Redis error; callers keep the row pending.
        """
        operation_id = str(operation_id)
        queue = self.queue()
        job_key = Job.key_for(operation_id)
        for _ in range(3):
            with queue.connection.pipeline() as pipeline:
                try:
                    pipeline.watch(job_key)
                    raw = pipeline.hget(job_key, "status")
                    if raw is not None and raw.decode() in _WAITING:
                        return
                    pipeline.multi()
                    queue.enqueue(
                        perform_operation,
                        operation_id,
                        job_id=operation_id,
                        job_timeout=settings.HINDSIGHT_JOB_TIMEOUT,
                        result_ttl=settings.HINDSIGHT_RQ_RESULT_TTL,
                        failure_ttl=settings.HINDSIGHT_RQ_FAILURE_TTL,
                        description=f"hindsight operation {operation_id}",
                        pipeline=pipeline,
                    )
                    pipeline.execute()
                    return
                except redis.WatchError:
                    continue  # someone else wrote this job meanwhile: look at it again
        logger.warning("dispatch of %s: its RQ job kept changing; left to the next sweep",
                       operation_id)

    def wake(self) -> None:
        """Hand the scheduler's next choices to RQ, only as many as there are workers to run
        them (``HINDSIGHT_DISPATCH_AHEAD``, default the live workers of the queue): the queue
        is FIFO, so whatever is in it has already been ordered. With fair scheduling off,
        everything waiting goes in at once (the old behaviour). A Redis error leaves the taken
        operations dispatched-but-unqueued; the outbox sweep enqueues them after the grace."""
        if settings.HINDSIGHT_FAIR_SCHEDULING:
            slots = settings.HINDSIGHT_DISPATCH_AHEAD or max(
                1, Worker.count(connection=self.connection(), queue=self.queue())
            )
            taken = scheduler.take_next(slots, slots=slots)
        else:
            taken = scheduler.take_next(_FIFO_BATCH)
        for operation_id in taken:
            self.dispatch(operation_id)

    # -- cancel fallback ---------------------------------------------------------------------
    def stop_unacknowledged_cancels(self, grace: float | None = None) -> list[str]:
        """Send RQ's stop-job command for cancelled operations whose job still executes
        ``grace`` seconds after the cancel. The database state is already final; this only
        frees a worker stuck inside one long chunk. Returns the ids it sent the command for."""
        grace = settings.HINDSIGHT_CANCEL_GRACE if grace is None else grace
        now = timezone.now()
        candidates = Operation.objects.filter(
            status=OperationStatus.CANCELLED,
            worker_id__startswith=f"{OWNER_KIND}:",
            completed_at__lt=now - timedelta(seconds=grace),
            completed_at__gte=now - _CANCEL_LOOKBACK,
        ).values_list("pk", flat=True)[:200]
        stopped = []
        connection = self.connection()
        for pk in candidates:
            job_id = str(pk)
            try:
                job = Job.fetch(job_id, connection=connection)
                if job.get_status(refresh=False) != JobStatus.STARTED or not job.worker_name:
                    continue
                # RQ kills a work-horse only for the job its worker says it runs; ask that
                # worker first, so a stop never reaches one that has moved on.
                worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix
                                            + job.worker_name, connection=connection)
                if worker is None or worker.get_current_job_id() != job_id:
                    continue
                # Pub/sub reaches only a worker listening at that moment, so a stop that went
                # unheard is sent again, but at most once per interval across every sweeper.
                marker = f"hindsight:stop-sent:{job_id}"
                if not connection.set(marker, 1, nx=True, ex=max(5, round(2 * grace))):
                    continue
                send_stop_job_command(connection, job_id)
            except (NoSuchJobError, InvalidJobOperation):
                continue
            logger.warning("operation %s: cancelled %.0fs ago but still executing on %s; "
                           "sent stop-job", job_id, grace, job.worker_name)
            stopped.append(job_id)
        return stopped

    # -- lifecycle and health ----------------------------------------------------------------
    def start(self) -> None:
        """Start this process's sweeper (reaper + outbox + cancel fallback) once."""
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = self.sweeper(name="hindsight-rq-sweeper")
        self._sweeper.start()

    def sweeper(self, name: str, owner_kind: str | None = None,
                on_pass: Callable[[], object] | None = None) -> Sweeper:
        """This process's liveness loop (not started). RQ workers pass ``owner_kind`` so they
        also take over operations of dead work-horses on their machine, and ``on_pass`` to
        record their own liveness."""
        return Sweeper(self.dispatch, name=name, owner_kind=owner_kind,
                       after_pass=self.stop_unacknowledged_cancels, on_pass=on_pass,
                       quiet_errors=(redis.RedisError,), wake=self.wake)

    def health(self) -> dict:
        try:
            connection = self.connection()
            connection.ping()
            queued = self.queue().count
            workers = Worker.count(connection=connection)
        except redis.RedisError as exc:
            return {"status": "error", "type": self.name, "redis": "unavailable",
                    "error": f"{type(exc).__name__}: {exc}"}
        return {"status": "ok", "type": self.name, "redis": "connected", "queued": queued,
                "workers": workers}
