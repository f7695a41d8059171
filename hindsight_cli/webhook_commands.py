"""``hindsight webhooks add|list|rm|ping|deliveries|redeliver`` (docs/webhooks.md): each one
client call, a table or one line for people, ``--json`` for scripts."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .client import HindsightClient
from .render import Output, short_time


def add(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    events = [e.strip() for item in args.event for e in item.split(",") if e.strip()] or None
    hook = client.configure_webhook(args.bank, args.target, events=events, secret=args.secret,
                                    description=args.description)
    if out.json_mode:
        out.json(hook)
    else:
        out.line(f"webhook {hook['webhook_id']} -> {hook['url']} "
                 f"({', '.join(hook['events']) or 'every operation.* event'})")
        out.line(f"signing secret (shown only now): {hook['secret']}")
    return 0


def list_(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    hooks = client.list_webhooks(args.bank)
    if out.json_mode:
        out.json(hooks)
        return 0
    rows = []
    for hook in hooks:
        last = hook.get("last_delivery") or {}
        rows.append([hook["webhook_id"], "yes" if hook["enabled"] else "no",
                     ",".join(hook["events"]) or "operation.*", hook["url"],
                     last.get("status", "-"), short_time(last.get("at"))])
    out.table(["WEBHOOK", "ENABLED", "EVENTS", "URL", "LAST", "AT"], rows,
              f"{len(hooks)} webhook(s)")
    return 0


def rm(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    client.delete_webhook(args.bank, args.webhook)
    if out.json_mode:
        out.json({"webhook_id": args.webhook, "deleted": True})
    else:
        out.line(f"deleted webhook {args.webhook}")
    return 0


def ping(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    result = client.ping_webhook(args.bank, args.webhook)
    if out.json_mode:
        out.json(result)
    elif result["delivered"]:
        out.line(f"delivered: HTTP {result['status_code']} in {result['duration_ms']} ms")
    else:
        out.line(f"not delivered: {result['error']} ({result['duration_ms']} ms)")
    return 0 if result["delivered"] else 1


def deliveries(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    page = client.list_webhook_deliveries(args.bank, args.webhook, status=args.status,
                                          limit=args.limit, cursor=args.cursor)
    if out.json_mode:
        out.json(page)
        return 0
    rows = [[d["delivery_id"], d["event"], d["status"], str(d["attempts"]),
             str(d["last_status_code"] or "-"), (d["last_error"] or "")[:40],
             short_time(d["created_at"])] for d in page["deliveries"]]
    caption = f"{len(rows)} deliveries"
    if page["next_cursor"]:
        caption += f"; more with --cursor {page['next_cursor']}"
    out.table(["DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "ERROR", "CREATED"], rows,
              caption)
    return 0


def redeliver(client: HindsightClient, args: argparse.Namespace, out: Output) -> int:
    row = client.redeliver(args.bank, args.webhook, args.delivery)
    if out.json_mode:
        out.json(row)
    else:
        out.line(f"redelivery {row['delivery_id']} of event {row['event_id']} queued")
    return 0


def add_parsers(sub: argparse._SubParsersAction,
                command: Callable[..., argparse.ArgumentParser],
                positive_int: Callable[[str], int]) -> None:
    hooks = sub.add_parser("webhooks", help="add, list, rm, ping webhooks; their deliveries")
    hooks_sub = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    cmd = command(hooks_sub, "add", add, "subscribe a URL to a bank's events")
    cmd.add_argument("bank")
    cmd.add_argument("target", metavar="URL", help="where to POST the events")
    cmd.add_argument("--event", action="append", default=[],
                     help="operation.completed|operation.failed|operation.cancelled|"
                     "retain.completed|consolidation.completed; repeat or comma-separate "
                     "(default: every operation.* event)")
    cmd.add_argument("--secret", help="signing secret (default: one is generated)")
    cmd.add_argument("--description")
    cmd = command(hooks_sub, "list", list_, "a bank's webhooks and their last delivery")
    cmd.add_argument("bank")
    for name, handler, text in (("rm", rm, "delete a webhook"),
                                ("ping", ping, "send a ping event now (exit 1 if not 2xx)")):
        cmd = command(hooks_sub, name, handler, text)
        cmd.add_argument("bank")
        cmd.add_argument("webhook")
    cmd = command(hooks_sub, "deliveries", deliveries, "a webhook's delivery log, newest first")
    cmd.add_argument("bank")
    cmd.add_argument("webhook")
    cmd.add_argument("--status", help="pending|delivered|failed; comma-separate for several")
    cmd.add_argument("--limit", type=positive_int, default=20)
    cmd.add_argument("--cursor")
    cmd = command(hooks_sub, "redeliver", redeliver, "send a delivery's event again")
    cmd.add_argument("bank")
    cmd.add_argument("webhook")
    cmd.add_argument("delivery")
