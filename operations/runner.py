"""``run_operation``: the one loop every executor (embedded thread, RQ job) runs.

Steps and guarantees:
1. Claim by compare-and-set ``pending -> running``. A lost claim returns quietly: another
   worker has it, or it was cancelled before it started and must never start.
2. Cut the work into chunks (``HINDSIGHT_CHUNK_SIZE`` units or ``HINDSIGHT_CHUNK_SECONDS``,
   whichever first). Each chunk's results commit in one transaction together with
   ``progress += n`` and the heartbeat, and that progress update only matches while the
   operation is still running and owned by this worker. When it matches nothing (cancelled or
   taken over), the chunk rolls back and the run stops: after a cancel returns, nothing more of
   the operation is ever committed. A job may prepare each chunk first, outside the transaction
   (``Job.prepare_chunk``), so that the write lock is held for the writes alone.
3. Resume from the committed ``progress``, so a retried or reaped operation never processes an
   item twice (the unique ``(operation, item_index)`` constraint backs this up).
4. Error policy: ``JobFailed`` is an expected failure (its message is the error). A transient
   error -- a database operational error, a Redis or network error, a job's ``TransientError``
   -- puts the operation back to ``pending`` with ``retry_count + 1`` and ``next_retry_at``
   (exponential backoff with full jitter, ``HINDSIGHT_RETRY_SCHEDULE``) until
   ``HINDSIGHT_MAX_RETRIES`` retries are used up, then fails it with that error. Any other
   exception is a crash, stored as ``"<Class>: <message>"`` with the traceback logged.
5. Time limit: a run past ``HINDSIGHT_TIME_LIMIT`` (or its type's own limit) fails at its next
   chunk boundary; what it committed stays.
"""

from __future__ import annotations

import logging
import random
import time

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from . import transitions, workers
from .exceptions import JobFailed, TransientError
from .heartbeat import beating
from .models import Operation
from .registry import Job, get_job, render_result

logger = logging.getLogger(__name__)


class _Stopped(Exception):
    """The progress CAS matched no row: roll the chunk back and stop."""


class TimeLimitExceeded(Exception):
    """The run went past its wall-clock limit; raised at a chunk boundary."""


# What may pass if tried again later. OSError's ConnectionError/TimeoutError cover sockets.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError, OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError,
    ConnectionError, TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


def backoff_delay(retry_number: int, schedule: list[float] | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds before automatic retry ``retry_number`` (1-based): uniform in ``[0, base]``
    ("full jitter", so many operations failing together do not retry together), ``base`` the
    schedule's entry for that retry, its last entry repeating."""
    schedule = settings.HINDSIGHT_RETRY_SCHEDULE if schedule is None else schedule
    if not schedule:
        return 0.0
    base = schedule[min(retry_number, len(schedule)) - 1]
    return (rng or random).uniform(0, base)


def time_limit(operation_type: str) -> float:
    """This type's wall-clock limit per run, in seconds (0: none)."""
    return settings.HINDSIGHT_TIME_LIMITS.get(operation_type, settings.HINDSIGHT_TIME_LIMIT)


def run_operation(operation_id: object, worker_id: str | None = None) -> str | None:
    """Run one operation to a terminal state, or until it is cancelled or taken over.

    Returns the status this call brought it to, or None when it did not (lost claim, cancelled,
    taken over).
    """
    worker_id = worker_id or workers.worker_id("inline")
    if not transitions.claim(operation_id, worker_id):
        logger.debug("claim of %s lost; not running it", operation_id)
        return None
    operation = Operation.objects.select_related("bank").get(pk=operation_id)
    job = get_job(operation.type)
    logger.info("running %s %s from %d/%d", operation.type, operation_id,
                operation.progress, operation.total)
    with beating(operation_id, worker_id):
        return _run_claimed(operation, job, worker_id)


def next_chunk_size(units: int, elapsed: float, budget: float, maximum: int) -> int:
    """Units for the next chunk so that preparing, writing and committing it takes about
    ``budget`` seconds at the rate of the chunk just done. The deadline a job checks only bounds
    the work it does before its writes, so without this a chunk of slow-to-write units (many
    entities each) would hold the write lock, and hide progress, well past its budget. Growth is
    at most double per chunk, so one fast chunk does not make the next one huge."""
    if elapsed <= 0:
        return min(maximum, units * 2)
    return max(1, min(maximum, units * 2, int(units * budget / elapsed)))


def _run_claimed(operation: Operation, job: Job, worker_id: str) -> str | None:
    operation_id = operation.pk
    run_started = time.monotonic()
    limit = time_limit(operation.type)
    try:
        state = job.prepare(operation)
        progress = operation.progress
        budget, largest = settings.HINDSIGHT_CHUNK_SECONDS, settings.HINDSIGHT_CHUNK_SIZE
        size = largest
        while progress < operation.total:
            started = time.monotonic()
            if limit and started - run_started > limit:
                raise TimeLimitExceeded(
                    f"time limit of {limit:g} s exceeded at progress {progress}/{operation.total}"
                )
            deadline = started + budget
            # Lock-free half first: the write transaction below holds SQLite's one write lock,
            # which API requests (a cancel among them) and other operations wait for.
            prepared = job.prepare_chunk(operation, state, progress, size, deadline)
            with transaction.atomic():
                outcome = job.process_chunk(operation, state, progress, size, deadline,
                                            prepared=prepared)
                if outcome.units <= 0:
                    raise RuntimeError(f"{job.type} processed no unit at {progress}")
                if not transitions.commit_progress(
                    operation_id, worker_id, outcome.units, outcome.failed,
                    outcome.stage or job.stage,
                ):
                    raise _Stopped
            progress += outcome.units
            operation.progress = progress
            operation.failed_items_count += outcome.failed
            size = next_chunk_size(outcome.units, time.monotonic() - started, budget, largest)
        operation.refresh_from_db(fields=["progress", "failed_items_count"])
        if transitions.complete(operation_id, worker_id, job.summary(operation),
                                rendering=render_result(operation)):
            logger.info("completed %s %s", operation.type, operation_id)
            return "completed"
        return None
    except _Stopped:
        logger.info("%s %s stopped at %d: cancelled or taken over", operation.type,
                    operation_id, operation.progress)
        return None
    except (JobFailed, TimeLimitExceeded) as exc:
        transitions.fail(operation_id, worker_id, str(exc), type(exc).__name__)
        return "failed"
    except TRANSIENT_ERRORS as exc:
        return _after_transient_error(operation, worker_id, exc)
    except Exception as exc:
        logger.exception("%s %s crashed", operation.type, operation_id)
        if transitions.fail(operation_id, worker_id, f"{type(exc).__name__}: {exc}",
                            type(exc).__name__):
            return "failed"
        return None


def _after_transient_error(operation: Operation, worker_id: str, exc: BaseException) -> str | None:
    """Defer the operation for an automatic retry, or fail it once the retries are used up.
    The connection may be the thing that broke (a terminated PostgreSQL backend): it is
    dropped if unusable so that this bookkeeping gets a fresh one. If even that fails, the
    operation stays ``running`` without a heartbeat and the reaper takes it over."""
    operation_id = operation.pk
    error_type = type(exc).__name__
    message = f"{error_type}: {exc}"
    try:
        connection.close_if_unusable_or_obsolete()
        retries = (
            Operation.objects.filter(pk=operation_id).values_list("retry_count", flat=True).first()
        )
        if retries is None:
            return None
        if retries >= settings.HINDSIGHT_MAX_RETRIES:
            logger.error("%s %s: %s; no retry left", operation.type, operation_id, message)
            return "failed" if transitions.fail(operation_id, worker_id, message, error_type) \
                else None
        delay = backoff_delay(retries + 1)
        if transitions.defer(operation_id, worker_id, str(exc), error_type, delay):
            logger.warning("%s %s: %s; retry %d/%d in %.1f s", operation.type, operation_id,
                           message, retries + 1, settings.HINDSIGHT_MAX_RETRIES, delay)
            return "pending"
        return None
    except Exception:
        logger.exception("%s %s: recording a transient error failed; the reaper will take it",
                         operation.type, operation_id)
        return None
