"""One function per CLI command: call the client, hand the answer to ``render``. They return
the exit code; errors propagate as client exceptions and are reported by ``main``."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from .client import APIError, HindsightClient
from .inputs import (
    SYNC_MAX_BYTES,
    SYNC_MAX_ITEMS,
    InputError,
    build_items,
    expand_paths,
    over_sync_guideline,
    payload_bytes,
)
from .render import (
    OPERATION_COLUMNS,
    Output,
    operation_fields,
    operation_rows,
    progress_text,
    short_time,
    upload_progress,
)
from .watch import watch_all, watch_one

DEFAULT_BATCH_ITEMS = 10_000
BATCH_LIMIT_NAME = "HINDSIGHT_MAX_BATCH_ITEMS"
BODY_LIMIT_NAME = "HINDSIGHT_MAX_BODY_BYTES"
FILES_LIMIT_NAME = "HINDSIGHT_MAX_FILES_PER_REQUEST"
DEFAULT_FILES_PER_REQUEST = 100
# Under the server's default body limit (64 MB) with room for the multipart framing.
UPLOAD_BATCH_BYTES = 48 * 1024 * 1024


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


def smaller_batch(exc: APIError, sent: int, count_limit: str = BATCH_LIMIT_NAME) -> int | None:
    """The batch size to try after ``exc``, or None when a smaller request would not help."""
    if exc.status_code != 413:
        return None
    limit, server_max = exc.body.get("limit"), exc.body.get("max")
    if limit == count_limit and isinstance(server_max, int) and 0 < server_max < sent:
        return server_max
    if limit == BODY_LIMIT_NAME and sent > 1:
        return sent // 2
    return None


def retain(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    """TEXT (or stdin) is retained as one item; ``--files`` are uploaded as documents."""
    paths = expand_paths(args.files)
    if args.document_id and paths:
        raise InputError("--document-id cannot be combined with --files (each file's path is "
                         "its document id)")
    if args.text is None and not paths:
        raise InputError("nothing to retain: give TEXT, '-' for stdin, or --files")
    answers: list[tuple[list[str], dict[str, Any]]] = []
    if args.text is not None:
        items = build_items(args.text, [], args.context, args.document_id, args.tag)
        if not args.async_ and over_sync_guideline(items):
            sync_hint(out, len(items), payload_bytes(items), "items")
        answers += [([args.document_id or "item 0"], answer) for _, answer in
                    _send_chunks(client, args.bank, items, batch_size(args), args.async_)]
    if paths:
        answers += upload_files(client, args, out, paths)
    if args.async_:
        operations = [answer for _, answer in answers]
        if out.json_mode:
            out.json(operations)
        else:
            for op in operations:
                out.line(op["operation_id"])
            first = operations[0]["operation_id"]
            what = f"{len(paths)} files" if paths else "1 item"
            out.note(f"submitted {len(operations)} operation(s) for {what} to bank "
                     f"{args.bank}; follow with: hindsight operations watch {args.bank} "
                     + (first if len(operations) == 1 else "--all"))
        return 0
    merged: dict[str, Any] = {"memory_ids": [], "failed_items": [], "operation_ids": []}
    labels: list[str] = []
    failed_operation = False
    for names, answer in answers:
        merged["memory_ids"].extend(answer.get("memory_ids", []))
        for failure in answer.get("failed_items", []):
            label = names[failure["index"]]
            error = failure["error"].removeprefix(f"{Path(label).name}: ")
            merged["failed_items"].append({**failure, "index": len(labels) + failure["index"],
                                           "error": error})
        labels.extend(names)
        merged["operation_ids"].append(answer.get("operation_id"))
        failed_operation |= answer.get("status") == "failed"
    if out.json_mode:
        out.json(merged)
    else:
        out.line(f"retained {len(merged['memory_ids'])} memories in bank {args.bank}"
                 f" ({len(merged['failed_items'])} failed)")
        for failure in merged["failed_items"]:
            out.line(f"failed: {labels[failure['index']]}: {failure['error']}")
    return 1 if failed_operation else 0


def sync_hint(out: Output, count: int, size: int, what: str) -> None:
    out.note(f"hint: {count} {what} / {size // 1024} KB is over the synchronous guideline "
             f"({SYNC_MAX_ITEMS} items / {SYNC_MAX_BYTES // 1024} KB); use --async to run it "
             "in the background")


def files_per_request(args: argparse.Namespace) -> int:
    """Files per upload: ``--batch-size``, else the server's limit as configured in this
    environment (``HINDSIGHT_MAX_FILES_PER_REQUEST``), else its default."""
    if args.batch_size:
        return args.batch_size
    raw = os.environ.get(FILES_LIMIT_NAME, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_FILES_PER_REQUEST


def upload_files(client: HindsightClient, args: argparse.Namespace, out: Output,
                 paths: list[str]) -> list[tuple[list[str], dict[str, Any]]]:
    """Upload ``paths`` in requests of at most ``files_per_request`` files and
    ``UPLOAD_BATCH_BYTES``, re-cut like ``_send_chunks`` when a 413 names a lower limit. Each
    file's path as typed is its document id. A progress bar on a terminal follows the bytes."""
    sizes = [file_size(path) for path in paths]
    if not args.async_ and (len(paths) > SYNC_MAX_ITEMS or sum(sizes) > SYNC_MAX_BYTES):
        sync_hint(out, len(paths), sum(sizes), "files")
    answers: list[tuple[list[str], dict[str, Any]]] = []
    size = files_per_request(args)
    with upload_progress(out, sum(sizes), len(paths)) as progress:
        start = 0
        while start < len(paths):
            end = upload_batch_end(sizes, start, size)
            part = paths[start:end]
            try:
                answer = client.retain_files(
                    args.bank, part, async_=args.async_, context=args.context, tags=args.tag,
                    files_metadata=[{"document_id": path} for path in part],
                    on_sent=progress.sent,
                )
            except APIError as exc:
                smaller = smaller_batch(exc, len(part), FILES_LIMIT_NAME)
                if smaller is None:
                    raise
                size = smaller
                progress.rewind()
                continue
            progress.files_done(len(part), sum(sizes[start:end]))
            answers.append((part, answer))
            start = end
    return answers


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def upload_batch_end(sizes: list[int], start: int, most: int) -> int:
    """End of the batch from ``start``: at most ``most`` files and ``UPLOAD_BATCH_BYTES``
    (a larger single file goes alone; the server judges it against its own limits)."""
    end, total = start, 0
    while end < len(sizes) and end - start < most:
        if end > start and total + sizes[end] > UPLOAD_BATCH_BYTES:
            break
        total += sizes[end]
        end += 1
    return end


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
