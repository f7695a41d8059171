"""The delivery loop: send due webhook deliveries, log every attempt, schedule the next one.

Runs as its own thread in the embedded executor's process and in every RQ worker, and as
``manage.py webhooks deliver``; any number may run at once. A loop claims a due row by
compare-and-set on its ``claim_token`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent
loops take disjoint rows), which pushes ``next_attempt_at`` one lease ahead: no two loops send
the same attempt, and a loop that dies mid-send is replaced once the lease runs out (the
receiver may then get the event twice, with the same ``event_id``: at-least-once). Sends run on
a small pool, so a hanging receiver holds up one slot for at most its timeout, and never an
operation: the runner only wrote rows.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import F
from django.utils import timezone

from . import addresses, webhooks
from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

D = DeliveryStatus
BODY_LOG_BYTES = 1024
# Beyond its timeout, how long a claimed attempt may take (recording it included) before
# another loop may take it over.
LEASE_MARGIN = 5.0
MAX_TIMEOUT = 60.0
# Headers a subscription's ``http_config`` may not set: ours, and the transport's.
RESERVED_HEADERS = frozenset({
    "host", "content-type", "content-length", "user-agent", "transfer-encoding", "connection",
    "x-hub-signature-256",
})
RESERVED_PREFIX = "x-hindsight-"
_ssl_context = None
_ssl_lock = threading.Lock()


def ssl_context() -> object:
    """One verifying TLS context for every attempt: loading the CA bundle per attempt costs
    more CPU than the attempt itself. (Connections are not pooled: each attempt connects to
    the address it has just checked.)"""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


@dataclass
class AttemptResult:
    status_code: int | None = None
    error: str = ""
    duration_ms: int = 0
    body: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _version() -> str:
    return settings.HINDSIGHT_VERSION


def timeout_of(http_config: dict | None) -> float:
    configured = (http_config or {}).get("timeout_seconds")
    if configured:
        return float(min(max(configured, 1), MAX_TIMEOUT))
    return settings.HINDSIGHT_WEBHOOK_TIMEOUT


# --- Claim --------------------------------------------------------------------------------------


def claim_due(limit: int) -> list[tuple[WebhookDelivery, str]]:
    """Claim up to ``limit`` due pending deliveries for this caller: ``[(row, token)]``."""
    claimed: list[tuple[object, str]] = []
    due_now = WebhookDelivery.objects.filter(status=D.PENDING,
                                             next_attempt_at__lte=timezone.now())
    # A plain read first: on SQLite every transaction takes the one write lock, and most polls
    # find nothing due.
    if not due_now.exists():
        return []
    with transaction.atomic():
        now = timezone.now()  # after waiting for the lock: the lease starts now
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=D.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", "claim_token", "webhook__http_config")[:limit]
        )
        for pk, old_token, http_config in due:
            token = uuid.uuid4().hex
            lease = timedelta(seconds=timeout_of(http_config) + LEASE_MARGIN)
            won = WebhookDelivery.objects.filter(
                pk=pk, status=D.PENDING, claim_token=old_token, next_attempt_at__lte=now
            ).update(claim_token=token, next_attempt_at=now + lease,
                     attempts=F("attempts") + 1, updated_at=now)
            if won:
                claimed.append((pk, token))
    rows = WebhookDelivery.objects.select_related("webhook__bank").in_bulk(
        [pk for pk, _ in claimed]
    )
    return [(rows[pk], token) for pk, token in claimed if pk in rows]


# --- Send ---------------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code not in (429, 503):
        return None
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def send(delivery: WebhookDelivery) -> AttemptResult:
    """One HTTP attempt: address checked and pinned, signed, no redirects, bounded in time;
    reads at most the first 1 KB of the answer."""
    hook = delivery.webhook
    config = hook.http_config or {}
    method = (config.get("method") or "POST").upper()
    body = webhooks.body_bytes(delivery.payload)
    sent_body = body if method == "POST" else b""
    headers = {
        name: value for name, value in (config.get("headers") or {}).items()
        if name.lower() not in RESERVED_HEADERS and not name.lower().startswith(RESERVED_PREFIX)
    }
    headers.update({
        "Content-Type": "application/json",
        "User-Agent": f"hindsight-operations/{_version()}",
        "X-Hindsight-Event": delivery.event,
        "X-Hindsight-Event-Id": delivery.event_id,
        "X-Hindsight-Delivery-Id": str(delivery.pk),
        **webhooks.signature_headers(hook.secret, sent_body),
    })
    params = dict(config.get("params") or {})
    if method == "GET":
        params.update(event=delivery.event, event_id=delivery.event_id)
    timeout = timeout_of(config)
    started = time.monotonic()
    result = AttemptResult()
    try:
        target = addresses.check(hook.url, settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE)
        headers["Host"] = target.host_header
        extensions = {"sni_hostname": target.host} if target.url.startswith("https") else {}
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                          verify=ssl_context()) as client:
            request = client.build_request(method, target.pinned_url, content=sent_body,
                                           headers=headers, params=params or None,
                                           extensions=extensions)
            response = client.send(request, stream=True)
            try:
                result.status_code = response.status_code
                result.retry_after = _retry_after(response)
                kept = b""
                for chunk in response.iter_raw():
                    kept += chunk
                    if len(kept) >= BODY_LOG_BYTES:
                        break
                result.body = kept[:BODY_LOG_BYTES].decode("utf-8", "replace")
            finally:
                response.close()
        if not result.ok:
            result.error = f"HTTP {result.status_code}"
    except addresses.UnsafeAddress as exc:
        result.error = f"refused: {exc}"
    except httpx.TimeoutException:
        result.error = f"timeout after {timeout:g}s"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


# --- Record -------------------------------------------------------------------------------------


def next_delay(attempt: int, retry_after: float | None = None) -> float | None:
    """Seconds before attempt ``attempt + 1`` (±10 % jitter; at least ``Retry-After``), or
    None when ``attempt`` was the last one."""
    schedule = settings.HINDSIGHT_WEBHOOK_RETRY_SCHEDULE
    if attempt > len(schedule):
        return None
    delay = schedule[attempt - 1] * random.uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def record(delivery: WebhookDelivery, token: str, result: AttemptResult,
           retry: bool = True) -> bool:
    """Log the attempt and end the delivery or schedule its next attempt, if this caller still
    holds the claim (False: the lease ran out and another loop took it over)."""
    now = timezone.now()
    changes: dict[str, object] = {
        "last_attempt_at": now, "last_status_code": result.status_code,
        "last_error": result.error, "last_duration_ms": result.duration_ms,
        "last_response_body": result.body, "updated_at": now, "claim_token": "",
    }
    delay = None if result.ok or not retry else next_delay(delivery.attempts, result.retry_after)
    if result.ok:
        changes.update(status=D.DELIVERED, next_attempt_at=None)
    elif delay is None:
        changes.update(status=D.FAILED, next_attempt_at=None)
    else:
        changes.update(next_attempt_at=now + timedelta(seconds=delay))
    with transaction.atomic():
        mine = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=D.PENDING, claim_token=token
        ).update(**changes)
        if mine:
            WebhookAttempt.objects.create(
                delivery_id=delivery.pk, number=delivery.attempts, at=now,
                status_code=result.status_code, error=result.error,
                duration_ms=result.duration_ms, response_body=result.body,
            )
    if not mine:
        logger.warning("webhook delivery %s: claim lost while sending; not recorded", delivery.pk)
    return bool(mine)


def deliver(delivery: WebhookDelivery, token: str) -> AttemptResult:
    result = send(delivery)
    record(delivery, token, result)
    if not result.ok:
        logger.info("webhook delivery %s attempt %d to %s: %s", delivery.pk, delivery.attempts,
                    delivery.webhook.url, result.error)
    return result


def ping(webhook: object) -> AttemptResult:
    """Send a ``ping`` now and wait for the answer (no retries); logged like any delivery."""
    event_id = webhooks.new_event_id()
    token = uuid.uuid4().hex
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event_id=event_id, event=webhooks.PING,
        payload=webhooks.ping_payload(webhook, event_id), attempts=1, claim_token=token,
        next_attempt_at=now + timedelta(seconds=timeout_of(webhook.http_config) + LEASE_MARGIN),
    )
    delivery.webhook = webhook
    result = send(delivery)
    record(delivery, token, result, retry=False)
    return result


# --- The loop -----------------------------------------------------------------------------------


def _deliver_in_thread(delivery: WebhookDelivery, token: str) -> None:
    try:
        close_old_connections()
        deliver(delivery, token)
    except Exception:
        logger.exception("webhook delivery %s failed unexpectedly", delivery.pk)
    finally:
        connections.close_all()


def deliver_due(concurrency: int | None = None) -> int:
    """Send deliveries due now, as many as there are send slots (a claim's lease covers one
    attempt, not a wait in a queue), and wait for the answers. ``manage.py webhooks deliver
    --once`` repeats it until nothing is due. Returns how many attempts were made."""
    concurrency = concurrency or settings.HINDSIGHT_WEBHOOK_CONCURRENCY
    claimed = claim_due(concurrency)
    if not claimed:
        return 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="hindsight-send") as pool:
        for delivery, token in claimed:
            pool.submit(_deliver_in_thread, delivery, token)
    return len(claimed)


class DeliveryLoop(threading.Thread):
    """Claims as many due deliveries as it has free send slots, whenever this process commits
    new ones (``webhooks.WAKE``), a send finishes, or every ``HINDSIGHT_WEBHOOK_POLL_INTERVAL``
    seconds (rows written by other processes)."""

    def __init__(self, name: str = "hindsight-webhooks") -> None:
        super().__init__(name=name, daemon=True)
        self.concurrency = settings.HINDSIGHT_WEBHOOK_CONCURRENCY
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                        thread_name_prefix=f"{name}-send")
        self._busy = 0
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def _done(self, _future: object) -> None:
        with self._lock:
            self._busy -= 1
        webhooks.WAKE.set()

    def pass_once(self) -> int:
        with self._lock:
            free = self.concurrency - self._busy
        if free <= 0:
            return 0
        try:
            close_old_connections()
            claimed = claim_due(free)
        except Exception as exc:  # the database is away: try again next poll
            logger.warning("webhook delivery loop: %s; will try again", exc)
            return 0
        finally:
            connections.close_all()
        for delivery, token in claimed:
            with self._lock:
                self._busy += 1
            self._pool.submit(_deliver_in_thread, delivery, token).add_done_callback(self._done)
        return len(claimed)

    def run(self) -> None:
        while not self._stop_event.is_set():
            webhooks.WAKE.clear()
            claimed = self.pass_once()
            with self._lock:
                saturated = self._busy >= self.concurrency
            if claimed and not saturated:
                continue  # there may be more due rows than one claim took
            webhooks.WAKE.wait(settings.HINDSIGHT_WEBHOOK_POLL_INTERVAL)

    def stop(self) -> None:
        self._stop_event.set()
        webhooks.WAKE.set()
        self._pool.shutdown(wait=False)
