"""Status-poll bodies of terminal operations, kept per process by ``ETag``.

A terminal operation is polled again and again while nothing about it changes; rebuilding its
body each time (a full row read, instances, a rendering) cost a poll twice what deciding a
``304`` costs. The ``ETag`` names one version of one representation of one operation
(``reads.version_tag_of``: id, ``updated_at``, variant), and every change of the row bumps
``updated_at`` (``transitions``), so a body found under the ``ETag`` the row has *now* -- read in
the same request, with the bank and the caller's scope in the query -- is the body a fresh
rendering would give. The database stays the truth: nothing is answered without that read.
"""

from __future__ import annotations

import threading
import uuid

# Bytes of bodies kept per process; past it the memo starts over (a big batch's body is
# hundreds of kilobytes, a small one's a few hundred bytes).
BUDGET = 32 * 1024 * 1024

_bodies: dict[str, bytes] = {}
_ids: set[uuid.UUID] = set()  # operations with a kept body: their polls read the version first
_size = 0
_lock = threading.Lock()


def kept(pk: uuid.UUID) -> bool:
    """Whether some version of operation ``pk`` has a kept body (then a poll is cheaper
    reading the version first)."""
    return pk in _ids


def body_for(etag: str) -> bytes | None:
    return _bodies.get(etag)


def keep(pk: uuid.UUID, etag: str, body: bytes) -> None:
    """Keep ``body``, the 200 answer of the terminal version ``etag`` of operation ``pk``."""
    global _size
    with _lock:
        if etag in _bodies:
            return
        if _size + len(body) > BUDGET:
            _bodies.clear()
            _ids.clear()
            _size = 0
        if len(body) <= BUDGET:
            _bodies[etag] = body
            _ids.add(pk)
            _size += len(body)
