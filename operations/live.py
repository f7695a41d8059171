"""Watching a handful of operations at once: the state of the ones a page shows, and a
long-poll that answers as soon as any of them changes (the admin's live changelist, change
page and dashboard use it; one request per visible change, never one per row).

Every visible change of an operation goes through ``operations.transitions``, which always
bumps ``updated_at``; the version of a set of operations is therefore a digest of their
``(id, updated_at)`` pairs, read with one primary-key lookup of at most ``MAX_WATCHED`` rows.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from .models import Operation
from .states import ACTIVE

# A changelist page shows at most 100 rows (and 100 ids, as 32 hex digits, keep the URL under
# the 4 KB request line servers accept).
MAX_WATCHED = 100
POLL_STEP = 0.2


def parse_ids(raw: Iterable[str]) -> list[uuid.UUID]:
    """The valid UUIDs among ``raw`` (a page asks for what it shows; junk is ignored), at most
    ``MAX_WATCHED`` of them."""
    ids: list[uuid.UUID] = []
    for value in raw:
        try:
            ids.append(uuid.UUID(str(value).strip()))
        except ValueError:
            continue
        if len(ids) >= MAX_WATCHED:
            break
    return ids


def watched(ids: list[uuid.UUID]) -> QuerySet[Operation]:
    """The operations behind ``ids`` (deleted ones simply missing), bank joined."""
    return Operation.objects.select_related("bank").filter(pk__in=ids).defer("summary")


def version_from(pairs: Iterable[tuple[uuid.UUID, datetime]]) -> str:
    """A strong ETag of ``(id, updated_at)`` pairs: what a page rendered, or the table now."""
    canonical = sorted((pk.hex, updated.timestamp()) for pk, updated in pairs)
    digest = hashlib.blake2b(repr(canonical).encode(), digest_size=12).hexdigest()
    return f'"live-{digest}"'


def version_of(ids: list[uuid.UUID]) -> str:
    """The version of the watched set now: changes when any of them changes or disappears."""
    return version_from(Operation.objects.filter(pk__in=ids).values_list("pk", "updated_at"))


def any_active(operations: Iterable[Operation]) -> bool:
    return any(op.status in ACTIVE for op in operations)


def wait_for_changes(ids: list[uuid.UUID], known: str | None, timeout: float) -> str:
    """Block until the version of ``ids`` differs from ``known`` or ``timeout`` seconds have
    passed; returns the current version (equal to ``known`` when nothing changed)."""
    deadline = time.monotonic() + timeout
    version = version_of(ids)
    while version == known and time.monotonic() < deadline:
        time.sleep(min(POLL_STEP, max(0.0, deadline - time.monotonic())))
        version = version_of(ids)
    return version
