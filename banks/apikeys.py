"""API keys: the only functions that create, verify, list and revoke them (the ``ApiKey``
model lives in ``banks.models``).

A key is ``hs_<prefix>_<secret>``: the prefix (8 hex chars) is stored in clear, is shown in
lists and logs and selects the row; the secret (32 random bytes, URL-safe base64) exists only in
the answer to ``create_key``. At rest we keep SHA-256 of the whole key. A slow password KDF
(PBKDF2, argon2) buys nothing here: it protects *low-entropy* secrets against guessing, while a
256-bit random token cannot be guessed however fast the hash; a fast hash keeps every
authenticated request cheap. The digest does not depend on ``SECRET_KEY``, so rotating
``SECRET_KEY`` never locks every client out, and ``manage.py apikeys`` works in any process.
"""

from __future__ import annotations

import hashlib
import hmac
import mmap
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .bank_ids import validate_bank_id
from .models import PREFIX_HEX_CHARS, ApiKey

KEY_PREFIX = "hs_"
SECRET_BYTES = 32
# ``last_used_at`` is a write; doing it on every request would turn every read into a write
# (and, on SQLite, serialise readers behind the one writer). Once a minute is plenty to answer
# "is this key still in use?".
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """What ``create_key`` returns: the row and the one and only copy of the full key."""

    api_key: ApiKey
    key: str


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def split_key(key: str) -> str | None:
    """The prefix of a well-formed key, else None (no database query for garbage)."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not sep or not secret or len(prefix) != PREFIX_HEX_CHARS:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


def create_key(name: str, bank_ids: Iterable[str] | None = None) -> IssuedKey:
    """Create a key scoped to ``bank_ids`` (None = all banks). The returned ``key`` is the only
    time the secret exists in clear: only its digest is stored."""
    scope = None if bank_ids is None else sorted({validate_bank_id(b) for b in bank_ids})
    while True:
        prefix = secrets.token_hex(PREFIX_HEX_CHARS // 2)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiKey.objects.create(
        name=name, prefix=prefix, digest=digest_of(key),
        all_banks=scope is None, bank_ids=scope or [],
    )  # post_save: keys_changed()
    return IssuedKey(api_key=row, key=key)


def verify_key(key: str) -> ApiKey | None:
    """The active key matching ``key``, else None. Looks up by prefix, compares digests in
    constant time, and records ``last_used_at`` at most once per ``LAST_USED_RESOLUTION``."""
    prefix = split_key(key)
    if prefix is None:
        return None
    row = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.digest, digest_of(key)):
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional so concurrent requests of one key write once, not once each.
        cutoff = now - LAST_USED_RESOLUTION
        ApiKey.objects.filter(pk=row.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff)
        ).update(last_used_at=now)
        row.last_used_at = now
    return row


# --- "Does any active key exist?" (asked by every request without a key) ---------------------
# Answered from a per-process cache, not a query per request. Every change of the key table made
# here (create, revoke) and any save or delete of a key row (the admin) writes a new value into a
# small stamp file in the data directory, which every process maps into its memory: comparing it
# with the value its answer was read under is a memory read, not a system call (a system call
# hands the interpreter lock to another thread, which a busy server pays dearly for). So a key
# created in one process -- another gunicorn worker, or ``manage.py apikeys`` -- takes effect in
# every other process on the machine at their next request. ``HINDSIGHT_KEY_CACHE_SECONDS``
# bounds the answer's age anyway (processes on other machines, rows written by hand).

_STAMP_SIZE = 8


@dataclass
class _Presence:
    value: bool
    stamp: int
    checked: float


_presence: _Presence | None = None
_mapped: tuple[str, mmap.mmap] | None = None


def _stamp_map() -> mmap.mmap | None:
    """The stamp file, mapped shared (created on first use); None when the data directory
    cannot hold it (the age bound alone applies then)."""
    global _mapped
    path = os.path.join(settings.DATA_DIR, "apikeys.stamp")
    if _mapped is not None and _mapped[0] == path:
        return _mapped[1]
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _STAMP_SIZE:
                os.ftruncate(fd, _STAMP_SIZE)
            mapped = mmap.mmap(fd, _STAMP_SIZE)
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None
    if _mapped is not None:
        _mapped[1].close()
    _mapped = (path, mapped)
    return mapped


def _stamp() -> int:
    mapped = _stamp_map()
    return -1 if mapped is None else int.from_bytes(mapped[:_STAMP_SIZE], "little")


def keys_changed() -> None:
    """Make every process re-read whether an active key exists: a new stamp value (random, so
    no two changes look alike however close together) and this process's answer dropped."""
    global _presence
    _presence = None
    mapped = _stamp_map()
    if mapped is not None:
        mapped[:_STAMP_SIZE] = secrets.randbits(64).to_bytes(_STAMP_SIZE, "little")


def any_active_key() -> bool:
    global _presence
    stamp, now = _stamp(), time.monotonic()
    cached = _presence
    if (cached is not None and cached.stamp == stamp
            and now - cached.checked < settings.HINDSIGHT_KEY_CACHE_SECONDS):
        return cached.value
    value = ApiKey.objects.filter(revoked_at__isnull=True).exists()
    _presence = _Presence(value, stamp, now)
    return value


@receiver([post_save, post_delete], sender=ApiKey)
def _key_row_changed(sender: type[ApiKey], **kwargs: object) -> None:
    # Now for this process, and again once the change is visible to the others.
    keys_changed()
    transaction.on_commit(keys_changed)


def revoke_key(prefix: str) -> ApiKey:
    """Revoke the key with this prefix (idempotent: a revoked key keeps its first revocation
    time). Raises ``ApiKey.DoesNotExist`` for an unknown prefix."""
    prefix = prefix.removeprefix(KEY_PREFIX).split("_", 1)[0]
    row = ApiKey.objects.get(prefix=prefix)
    ApiKey.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    keys_changed()
    transaction.on_commit(keys_changed)
    row.refresh_from_db()
    return row


def list_keys() -> list[ApiKey]:
    return list(ApiKey.objects.all())
