"""The RQ worker class for operations: a plain ``manage.py rqworker`` uses it
(``settings.RQ["WORKER_CLASS"]``).

It is RQ's forking worker plus three things RQ does not do:

- **The sweeper thread** (``operations.sweeper``), which runs a liveness pass at worker start and
  every ``HINDSIGHT_SWEEP_INTERVAL`` seconds: every worker reaps operations whose heartbeat went
  stale, so a dead worker is noticed by any survivor within ``HINDSIGHT_STALE_AFTER`` -- not after
  RQ's own maintenance interval, and by the API process's sweeper even when no worker is alive. A
  worker also takes over, within one sweep, operations whose work-horse on the same machine has
  died (``workers.recover_dead_owners``): a killed process needs no heartbeat timeout.
- **The webhook delivery loop** (``operations.deliveries``), a thread of its own.
- **Riding out a Redis outage.** RQ's own loop quits on most Redis errors, leaving every pending
  operation waiting for someone to restart the worker. Here a lost connection is one log line;
  the worker then probes Redis with capped exponential backoff and jitter
  (``HINDSIGHT_REDIS_BACKOFF_INITIAL`` doubling up to ``HINDSIGHT_REDIS_BACKOFF_MAX``), logs one
  line when Redis answers again, registers itself again (Redis may have come back empty) and
  takes work as before. Meanwhile what needs only the database goes on: the work-horse running an
  operation keeps heartbeating and commits it normally (RQ's own Redis heartbeats of that job
  are skipped, not fatal), and the sweeper keeps reaping. Pending operations whose RQ jobs were
  lost are dispatched again by the outbox sweep once Redis is back. The worker's state and its
  reconnects are recorded in the database (``operations.presence``) for ``/health`` and
  ``/metrics``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import worker_registration
from rq.exceptions import StopRequested
from rq.job import Job
from rq.logutils import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.utils import now
from rq.worker import Worker
from rq.worker.base import DequeueStrategy

from . import presence
from .deliveries import DeliveryLoop
from .rq_executor import OWNER_KIND, RQExecutor

logger = logging.getLogger(__name__)

# What an unreachable Redis raises (BusyLoadingError, a restarting Redis, is a ConnectionError).
REDIS_DOWN: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)


class RedisLost(Exception):
    """Raised instead of a Redis connection error where RQ would otherwise retry in place (its
    dequeue loop logs every attempt and never gives up): the outage is handled in one place,
    ``HindsightWorker._reconnect``. Deliberately not a ``redis.ConnectionError``."""


def backoff(initial: float, cap: float) -> Iterator[float]:
    """Delays doubling from ``initial`` up to ``cap``, each drawn in [d/2, d] ("equal jitter"):
    workers that lost Redis at the same moment do not all knock at once when it returns."""
    delay = initial
    while True:
        yield random.uniform(delay / 2, delay)
        delay = min(cap, delay * 2)


class _QuietReconnects(logging.Filter):
    """Drops RQ's own "could not connect to Redis instance ... retrying" lines (its dequeue loop
    and its pubsub thread log one every retry): the worker logs the outage once, itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "could not connect to Redis instance" not in str(record.msg)


_QUIET = _QuietReconnects()


class HindsightWorker(Worker):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if _QUIET not in self.log.filters:
            self.log.addFilter(_QUIET)
        self._redis_lost_at: float | None = None  # monotonic time of the outage going on
        self._probe: redis.Redis | None = None
        self._log_setup: tuple[str | None, str, str] = (
            None, DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT)

    # -- the work loop -------------------------------------------------------------------------
    def work(
        self,
        burst: bool = False,
        logging_level: str | None = None,
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
        max_jobs: int | None = None,
        max_idle_time: int | None = None,
        with_scheduler: bool = False,
        dequeue_strategy: DequeueStrategy = DequeueStrategy.DEFAULT,
    ) -> bool:
        """RQ's work loop (same arguments, same order of duties), except that a lost Redis
        connection is ridden out instead of ending the worker."""
        # Started in the parent worker only; a forked work-horse has no copy of this thread.
        sweeper = RQExecutor().sweeper(f"hindsight-sweeper-{self.name}", owner_kind=OWNER_KIND,
                                       on_pass=lambda: presence.seen(self.name))
        presence.started(self.name)
        sweeper.start()
        deliveries = DeliveryLoop(f"hindsight-webhooks-{self.name}")  # webhooks (issue 14)
        deliveries.start()
        self._dequeue_strategy = dequeue_strategy
        self._log_setup = (logging_level, date_format, log_format)
        completed = 0
        self._install_signal_handlers()
        try:
            try:
                self._join()
            except (*REDIS_DOWN, RedisLost) as exc:  # started while Redis is down: wait
                self._reconnect(exc)
            if with_scheduler:
                self._start_scheduler(burst, logging_level, date_format, log_format)
            while True:
                try:
                    self.check_for_suspension(burst)
                    if self.should_run_maintenance_tasks:
                        self.run_maintenance_tasks()
                    if self._stop_requested:
                        self.log.info("Worker %s: stopping on request", self.name)
                        break
                    timeout = None if burst else self.dequeue_timeout
                    result = self.dequeue_job_and_maintain_ttl(timeout, max_idle_time)
                    if result is None:
                        self.log.info("Worker %s: done or idle, quitting", self.name)
                        break
                    job, queue = result
                    self.execute_job(job, queue)
                    completed += 1
                    self.heartbeat()
                    if max_jobs is not None and completed >= max_jobs:
                        self.log.info("Worker %s: finished %d jobs, quitting", self.name,
                                      completed)
                        break
                except (*REDIS_DOWN, RedisLost) as exc:
                    self._reconnect(exc)
        except StopRequested:
            pass
        except Exception:
            self.log.error("Worker %s: unhandled exception, quitting", self.name, exc_info=True)
        finally:
            sweeper.stop()
            deliveries.stop()
            self.teardown()
            presence.stopped(self.name)
        return bool(completed)

    def _join(self) -> None:
        """Register with Redis: RQ's bootstrap (birth, pubsub subscription) the first time,
        ``_rejoin`` after an outage (Redis may have forgotten this worker)."""
        if self.birth_date is None:
            self._learn_address()
            self.bootstrap(*self._log_setup)
        else:
            self._rejoin()

    # -- riding out an outage ------------------------------------------------------------------
    def _lost(self, exc: BaseException) -> None:
        """The one line per outage, and the database record of it."""
        if self._redis_lost_at is not None:
            return
        self._redis_lost_at = time.monotonic()
        busy = " (the operation it is running carries on)" if self._horse_pid else ""
        reason = str(exc) if isinstance(exc, RedisLost) else f"{type(exc).__name__}: {exc}"
        logger.warning(
            "Worker %s: lost Redis (%s)%s; reconnecting with backoff (%.1fs doubling up to "
            "%.0fs); operations running here go on and commit through the database",
            self.name, reason, busy, settings.HINDSIGHT_REDIS_BACKOFF_INITIAL,
            settings.HINDSIGHT_REDIS_BACKOFF_MAX)
        presence.redis_lost(self.name, reason)

    def _back(self, attempts: int) -> None:
        lost_at, self._redis_lost_at = self._redis_lost_at, None
        down = time.monotonic() - lost_at if lost_at is not None else 0.0
        logger.warning("Worker %s: Redis is back after %.1fs (%d probe(s)); taking work again",
                       self.name, down, attempts)
        presence.redis_back(self.name)

    def _reconnect(self, exc: BaseException) -> None:
        """Wait for Redis with capped, jittered backoff, then register (again). Returns once
        registered; a stop request (SIGTERM/SIGINT) raises ``StopRequested`` out of the wait."""
        self._lost(exc)
        attempts = 0
        delays = backoff(settings.HINDSIGHT_REDIS_BACKOFF_INITIAL,
                         settings.HINDSIGHT_REDIS_BACKOFF_MAX)
        while True:
            if self._stop_requested:
                raise StopRequested
            time.sleep(next(delays))
            attempts += 1
            if not self._redis_answers():
                continue
            # Sockets of the old connection are dead; the next command opens a fresh one.
            self.connection.connection_pool.disconnect()
            try:
                self._join()
            except REDIS_DOWN:
                continue
            self._back(attempts)
            return

    def _redis_answers(self) -> bool:
        """One PING without redis-py's own retries (they would stretch every probe by seconds
        of backoff we do not control)."""
        if self._probe is None:
            pool = self.connection.connection_pool
            kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
            timeout = min(5.0, settings.HINDSIGHT_REDIS_TIMEOUT)
            kwargs.update(socket_timeout=timeout, socket_connect_timeout=timeout)
            self._probe = redis.Redis(connection_pool=redis.ConnectionPool(
                connection_class=pool.connection_class, **kwargs))
        try:
            return bool(self._probe.ping())
        except (*REDIS_DOWN, redis.ResponseError):
            self._probe.connection_pool.disconnect()
            return False

    def _rejoin(self) -> None:
        """Put this worker back in RQ's registry and pubsub channel: after a restart without
        persistence Redis knows nothing of it (the dashboard and ``/health`` count workers
        there, and stop-job commands arrive on the channel)."""
        self._learn_address()
        self.last_heartbeat = now()
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, mapping=self.serialize())
            pipeline.hdel(self.key, "death")
            pipeline.hset(self.key, "state", self.get_state())
            worker_registration.register(self, pipeline)
            pipeline.expire(self.key, self.worker_ttl + 60)
            pipeline.execute()
        if self.pubsub_thread is None or not self.pubsub_thread.is_alive():
            self.subscribe()

    # -- RQ's Redis bookkeeping, made survivable ---------------------------------------------
    def _set_ip_address(self, connection: redis.Redis) -> None:
        # RQ asks Redis for this worker's address in __init__: a worker started while Redis is
        # down would exit before it could wait. The address is learnt again in _rejoin.
        try:
            super()._set_ip_address(connection)
        except REDIS_DOWN:
            self.ip_address = "unknown"

    def _learn_address(self) -> None:
        if self.ip_address == "unknown":
            super()._set_ip_address(self.connection)

    def heartbeat(self, timeout: int | None = None, pipeline: object = None) -> None:
        try:
            super().heartbeat(timeout, pipeline)
        except REDIS_DOWN as exc:
            if self._horse_pid:  # monitoring a running job: never abandon it
                self._lost(exc)
                return
            raise RedisLost(f"{type(exc).__name__}: {exc}") from exc

    def maintain_heartbeats(self, job: Job) -> None:
        """RQ's heartbeats of the running job (every ``job_monitoring_interval``). Without Redis
        they are skipped: the operation's own heartbeat goes to the database, and leaving the
        monitor loop would abandon the work-horse."""
        try:
            super().maintain_heartbeats(job)
        except REDIS_DOWN as exc:
            self._lost(exc)
            return
        if self._redis_lost_at is not None:  # Redis returned while the job ran
            try:
                self._rejoin()
            except REDIS_DOWN:
                return
            self._back(1)

    def set_shutdown_requested_date(self) -> None:
        # Called from the SIGTERM handler: a Redis error raised there would break out of
        # whatever the worker was doing, monitoring a work-horse included.
        try:
            super().set_shutdown_requested_date()
        except REDIS_DOWN as exc:
            self._lost(exc)

    def teardown(self) -> None:
        """RQ's teardown (death registration, unsubscribe) when Redis answers; nothing to tell
        it otherwise."""
        try:
            super().teardown()
        except REDIS_DOWN:
            logger.warning("Worker %s: stopping without Redis; its registry entry expires by "
                           "itself", self.name)

