"""``hindsight operations watch``: follow one operation (long-poll) or every active one of a
bank until they end. Exit codes say how they ended."""

from __future__ import annotations

import time

from . import interrupts
from .client import ACTIVE_STATUSES, APIError, HindsightClient
from .render import Output, ProgressView

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_CANCELLED = 2
EXIT_INTERRUPTED = 130
EXIT_BY_STATUS = {"completed": EXIT_COMPLETED, "failed": EXIT_FAILED,
                  "cancelled": EXIT_CANCELLED}
# ``--all`` polls the list: there is no long-poll over a set of operations.
ALL_POLL_SECONDS = 1.0
ALL_PAGE = 100


def watch_one(client: HindsightClient, out: Output, bank_id: str, operation_id: str) -> int:
    """Long-poll the operation until it is terminal; 0 completed, 1 failed, 2 cancelled."""
    operation: dict = {}
    try:
        with ProgressView(out) as view:
            for operation in client.follow_operation(bank_id, operation_id):
                view.update(operation)
    except KeyboardInterrupt:
        still = operation.get("status", "running")
        out.note(f"stopped watching; operation {operation_id} is still {still} on the server "
                 f"(cancel it with: hindsight operations cancel {bank_id} {operation_id})")
        interrupts.reported()
        return EXIT_INTERRUPTED
    return EXIT_BY_STATUS[operation["status"]]


def worst(codes: list[int]) -> int:
    """For ``--all``: failed beats cancelled beats completed."""
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    return EXIT_CANCELLED if EXIT_CANCELLED in codes else EXIT_COMPLETED


def watch_all(client: HindsightClient, out: Output, bank_id: str) -> int:
    """One bar per pending/running operation of the bank; operations submitted meanwhile
    appear, finished ones close with a summary. Returns when none is left active."""
    watched: set[str] = set()
    codes: list[int] = []
    try:
        with ProgressView(out) as view:
            while True:
                active = client.list_operations(bank_id, status=list(ACTIVE_STATUSES),
                                                limit=ALL_PAGE)
                active_ids = {op["operation_id"] for op in active}
                for op in active:
                    watched.add(op["operation_id"])
                    view.update(op)
                for op_id in sorted(watched - active_ids):
                    watched.discard(op_id)
                    try:
                        final = client.get_operation(bank_id, op_id)
                    except APIError as exc:
                        if exc.status_code != 404:  # deleted meanwhile: nothing to report
                            raise
                        continue
                    view.update(final)
                    codes.append(EXIT_BY_STATUS.get(final["status"], EXIT_COMPLETED))
                if not watched:
                    break
                time.sleep(ALL_POLL_SECONDS)
    except KeyboardInterrupt:
        out.note(f"stopped watching; {len(watched)} operation(s) of bank {bank_id} are still "
                 "active on the server")
        interrupts.reported()
        return EXIT_INTERRUPTED
    if not codes:
        out.note(f"no pending or running operations in bank {bank_id}")
    return worst(codes)
