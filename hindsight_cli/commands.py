"""One function per CLI command: call the client, hand the answer to ``render``. They return
the exit code; errors propagate as client exceptions and are reported by ``main``."""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

from .client import APIError, HindsightClient
from .inputs import SYNC_MAX_BYTES, SYNC_MAX_ITEMS, build_items, over_sync_guideline
from .render import (
    OPERATION_COLUMNS,
    Output,
    operation_fields,
    operation_rows,
    progress_text,
    short_time,
)
from .watch import watch_all, watch_one

DEFAULT_BATCH_ITEMS = 10_000
BATCH_LIMIT_NAME = "HINDSIGHT_MAX_BATCH_ITEMS"
BODY_LIMIT_NAME = "HINDSIGHT_MAX_BODY_BYTES"


def batch_size(args: argparse.Namespace) -> int:
    """Items per request: ``--batch-size``, else the server's limit as configured in this
    environment (``HINDSIGHT_MAX_BATCH_ITEMS``), else its default."""
    if args.batch_size:
        return args.batch_size
    raw = os.environ.get(BATCH_LIMIT_NAME, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_BATCH_ITEMS


def _send_chunks(client: HindsightClient, bank_id: str, items: list[dict], size: int,
                 async_: bool) -> list[tuple[int, dict[str, Any]]]:
    """Send ``items`` ``size`` at a time. A 413 that a smaller request would avoid re-cuts
    the remaining items instead of failing: to the server's batch limit when it names a lower
    one, in halves when the request body is over its byte limit (big files)."""
    answers: list[tuple[int, dict[str, Any]]] = []
    start = 0
    while start < len(items):
        part = items[start : start + size]
        try:
            answers.append((start, client.retain(bank_id, part, async_=async_)))
        except APIError as exc:
            smaller = smaller_batch(exc, len(part))
            if smaller is None:
                raise
            size = smaller
            continue
        start += len(part)
    return answers


def smaller_batch(exc: APIError, sent: int) -> int | None:
    """The batch size to try after ``exc``, or None when a smaller request would not help."""
    if exc.status_code != 413:
        return None
    limit, server_max = exc.body.get("limit"), exc.body.get("max")
    if limit == BATCH_LIMIT_NAME and isinstance(server_max, int) and 0 < server_max < sent:
        return server_max
    if limit == BODY_LIMIT_NAME and sent > 1:
        return sent // 2
    return None


def retain(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    items = build_items(args.text, args.files, args.context, args.document_id, args.tag)
    size = batch_size(args)
    if not args.async_ and over_sync_guideline(items):
        out.note(f"hint: {len(items)} items / {sum(len(i['content']) for i in items) // 1024} KB "
                 f"is over the synchronous guideline ({SYNC_MAX_ITEMS} items / "
                 f"{SYNC_MAX_BYTES // 1024} KB); use --async to run it in the background")
    answers = _send_chunks(client, args.bank, items, size, args.async_)
    if args.async_:
        operations = [answer for _, answer in answers]
        if out.json_mode:
            out.json(operations)
        else:
            for op in operations:
                out.line(op["operation_id"])
            first = operations[0]["operation_id"]
            out.note(f"submitted {len(operations)} operation(s) for {len(items)} items to bank "
                     f"{args.bank}; follow with: hindsight operations watch {args.bank} "
                     + (first if len(operations) == 1 else "--all"))
        return 0
    merged: dict[str, Any] = {"memory_ids": [], "failed_items": [], "operation_ids": []}
    failed_operation = False
    for start, answer in answers:
        merged["memory_ids"].extend(answer.get("memory_ids", []))
        merged["failed_items"].extend(
            {**failure, "index": failure["index"] + start}
            for failure in answer.get("failed_items", [])
        )
        merged["operation_ids"].append(answer.get("operation_id"))
        failed_operation |= answer.get("status") == "failed"
    if out.json_mode:
        out.json(merged)
    else:
        out.line(f"retained {len(merged['memory_ids'])} memories in bank {args.bank}"
                 f" ({len(merged['failed_items'])} failed)")
        for failure in merged["failed_items"]:
            label = items[failure["index"]].get("document_id") or f"item {failure['index']}"
            out.line(f"failed: {label}: {failure['error']}")
    return 1 if failed_operation else 0


def operations_list(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    page = client.list_operations_page(args.bank, status=args.status, limit=args.limit,
                                       offset=args.offset, type=args.type)
    if out.json_mode:
        out.json(page)
        return 0
    ops = page["operations"]
    caption = f"{len(ops)} of {page['total']} operations in bank {args.bank}"
    if ops and page["total"] is not None and args.offset + len(ops) < page["total"]:
        caption += f" (next page: --offset {args.offset + len(ops)})"
    out.table(OPERATION_COLUMNS, operation_rows(ops), caption)
    return 0


def print_operation(out: Output, operation: dict[str, Any]) -> None:
    if out.json_mode:
        out.json(operation)
        return
    fields = operation_fields(operation)
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        if name == "status":
            value = out.styled_status(value)
        out.line(f"{name.ljust(width)}  {value}")


def operations_get(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    print_operation(out, client.get_operation(args.bank, args.operation))
    return 0


def operations_watch(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    if args.all:
        return watch_all(client, out, args.bank)
    return watch_one(client, out, args.bank, args.operation)


def operations_cancel(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    if args.all_pending:
        counts = client.cancel_operations(args.bank, status=["pending"])
        if out.json_mode:
            out.json(counts)
        else:
            out.line(f"cancelled {counts['cancelled']} pending operation(s) in bank {args.bank}"
                     f" ({counts['already_terminal']} already finished,"
                     f" {counts['not_found']} not found)")
            for op_id in counts.get("operation_ids", []):
                out.line(f"  {op_id}")
        return 0
    operation = client.cancel_operation(args.bank, args.operation)
    if out.json_mode:
        out.json(operation)
    else:
        out.line(f"operation {operation['operation_id']} {operation['status']} at "
                 f"{progress_text(operation)}")
    return 0


def operations_retry(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    operation = client.retry_operation(args.bank, args.operation)
    if out.json_mode:
        out.json(operation)
    else:
        # A fast executor may already have claimed (or even finished) it: say what is true now.
        out.line(f"operation {operation['operation_id']} queued for retry (now "
                 f"{operation['status']} at {progress_text(operation)})")
    return 0


def banks_list(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    banks = client.list_banks()
    if out.json_mode:
        out.json(banks)
        return 0
    rows = [[b["bank_id"], b.get("name") or "", str(b.get("memory_count", 0)),
             str((b.get("operations") or {}).get("pending", 0)),
             str((b.get("operations") or {}).get("running", 0)), short_time(b.get("created_at"))]
            for b in banks]
    out.table(["BANK", "NAME", "MEMORIES", "PENDING", "RUNNING", "CREATED"], rows,
              f"{len(banks)} bank(s)")
    return 0


def banks_create(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    body = {"bank_id": args.bank, **({"name": args.name} if args.name is not None else {})}
    response = client.request("POST", "/api/banks/", json=body, idempotent=True)
    bank = response.json()
    if out.json_mode:
        out.json(bank)
    else:
        verb = "created bank" if response.status_code == 201 else "bank already exists:"
        out.line(f"{verb} {bank['bank_id']} (name: {bank.get('name') or '-'})")
    # Like the API, creating an existing bank changes nothing: say so when a name was asked for.
    if args.name is not None and bank.get("name") != args.name:
        out.note(f"the name was not changed; rename it with: "
                 f"hindsight banks update {args.bank} --name {shlex.quote(args.name)}")
        return 1
    return 0


def banks_update(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    bank = client.request("PATCH", f"/api/banks/{args.bank}/", json={"name": args.name}).json()
    if out.json_mode:
        out.json(bank)
    else:
        out.line(f"updated bank {bank['bank_id']} (name: {bank.get('name') or '-'})")
    return 0


def banks_delete(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    client.delete_bank(args.bank)
    if out.json_mode:
        out.json({"bank_id": args.bank, "deleted": True})
    else:
        out.line(f"deleted bank {args.bank}")
    return 0


def recall(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    results = client.recall(args.bank, args.query, limit=args.limit)
    if out.json_mode:
        out.json(results)
        return 0
    rows = [[f"{r.get('score', 0):.3f}", r["memory_id"],
             " ".join(r["content"].split())[:80]] for r in results]
    out.table(["SCORE", "MEMORY", "CONTENT"], rows, f"{len(results)} result(s)")
    return 0
