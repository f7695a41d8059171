"""Who owns a running operation, and taking over from owners that died.

A claim writes ``worker_id`` = ``<kind>:<host>:<pid namespace>:<pid>:<thread>``: the embedded
executor's threads (kind ``embedded``), RQ work-horses (``rq``) and synchronous runs in a request
thread (``inline``) all use this one format, so any process can tell which owners it is able to
check: those of its own kind, host name and pid namespace (two containers may share a host name,
never a pid namespace). A process that no longer exists cannot be running anything, so its
operations are taken over within one sweep instead of after ``HINDSIGHT_STALE_AFTER``; owners
elsewhere still go through the heartbeat reaper.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path

from django.conf import settings

from . import transitions
from .models import Operation
from .states import OperationStatus

logger = logging.getLogger(__name__)


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").rstrip("]")
    except OSError:
        return "0"


def local_prefix(kind: str) -> str:
    """The ``worker_id`` prefix of every owner of ``kind`` whose pid this process can check."""
    return f"{kind}:{socket.gethostname()}:{_pid_namespace()}:"


def worker_id(kind: str) -> str:
    """The owner id a claim made by this thread writes."""
    return f"{local_prefix(kind)}{os.getpid()}:{threading.get_ident()}"


def owner_pid(owner: str) -> int | None:
    """The pid in a ``worker_id`` of the format above, else None."""
    parts = owner.split(":")
    try:
        return int(parts[3]) if len(parts) == 5 else None
    except ValueError:
        return None


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process nobody has waited for yet is a zombie: as dead as it gets
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def recover_dead_owners(kind: str, max_attempts: int | None = None) -> list[str]:
    """Requeue running operations whose owner of ``kind`` on this machine no longer exists.

    A pid that was reused counts as alive (the safe side: the heartbeat decides). The requeue is
    the reaper's compare-and-set, so it counts towards ``HINDSIGHT_MAX_ATTEMPTS``.
    """
    max_attempts = settings.HINDSIGHT_MAX_ATTEMPTS if max_attempts is None else max_attempts
    running = Operation.objects.filter(
        status=OperationStatus.RUNNING, worker_id__startswith=local_prefix(kind)
    ).values_list("pk", "worker_id")
    requeued = []
    for pk, owner in running:
        pid = owner_pid(owner)
        if pid is None or process_exists(pid):
            continue
        outcome = transitions.requeue_lost(pk, owner, max_attempts)
        if outcome == OperationStatus.PENDING:
            logger.warning("operation %s: its worker %s is gone; requeued", pk, owner)
            requeued.append(str(pk))
        elif outcome == OperationStatus.FAILED:
            logger.error("operation %s: its worker %s is gone, too often; failed", pk, owner)
    return requeued
