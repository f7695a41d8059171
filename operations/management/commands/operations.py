"""``manage.py operations list|get|cancel|retry|reap|prune|stats``: the operator's shell
interface. Every subcommand calls ``operations.services`` / ``operations.maintenance`` and only
formats what they return; nothing here writes a status. Human tables by default, ``--json`` for
scripts. Exit codes, as documented in the README: 0 all done, 1 some refused (an operation in a
status the action may not leave), 2 usage error, 3 unknown operation id or bank; the reason is
one ``CommandError`` line on stderr."""

from __future__ import annotations

import argparse
import json
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from banks.access import visible_bank, visible_banks
from banks.exceptions import BankNotFound
from banks.models import Bank
from operations import maintenance, services
from operations.exceptions import HindsightError, OperationNotFound
from operations.formatting import (
    format_duration,
    format_timestamp,
    plural,
    progress_text,
    render_table,
    run_time,
    wait_time,
)
from operations.models import OperationItemFailure
from operations.serializers import OperationSerializer
from operations.states import OperationStatus, OperationType, parse_statuses

AGE_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}
MAX_LIST_LIMIT = 1000
FAILED_ITEMS_SHOWN = 20
EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND = 1, 2, 3


def parse_age(raw: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``3600s``, ``2w``; a bare number means days."""
    match = AGE_RE.match(raw)
    if not match:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an age like 30d, 12h, 90m or 3600s")
    return timedelta(**{AGE_UNITS[match.group(2)]: int(match.group(1))})


def parse_limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIST_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIST_LIMIT}")
    return value


class Command(BaseCommand):
    help = "List, inspect, cancel, retry, reap and prune operations; show their stats."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        p = sub.add_parser("list", help="operations, newest first")
        p.add_argument("--bank", help="only this bank")
        p.add_argument("--status", action="append", default=[],
                       help="repeat or comma-separate: pending,running,...")
        p.add_argument("--type", action="append", choices=OperationType.values, default=[])
        p.add_argument("--limit", type=parse_limit, default=20)
        p.add_argument("--json", action="store_true", help="machine-readable output")

        p = sub.add_parser("get", help="one operation in full")
        p.add_argument("operation_id", help="full id, or a unique prefix of 8+ hex digits")
        p.add_argument("--json", action="store_true")

        p = sub.add_parser("cancel", help="cancel operations by id, or a bank's by status")
        p.add_argument("operation_ids", nargs="*", metavar="ID")
        p.add_argument("--bank", help="restrict to this bank (required with --status)")
        p.add_argument("--all-pending", action="store_true",
                       help="every pending operation of --bank")
        p.add_argument("--status", action="append", default=[],
                       help="every operation of --bank in this status (pending, running)")
        p.add_argument("--json", action="store_true")

        p = sub.add_parser("retry", help="failed or cancelled operations back to pending")
        p.add_argument("operation_ids", nargs="+", metavar="ID")
        p.add_argument("--json", action="store_true")

        p = sub.add_parser("reap", help="requeue or fail running operations whose worker is gone")
        p.add_argument("--json", action="store_true")

        p = sub.add_parser("prune", help="delete terminal operations past retention")
        p.add_argument("--older-than", type=parse_age, default=None,
                       help="age like 30d, 12h, 90m (default: HINDSIGHT_RETENTION_DAYS days)")
        p.add_argument("--dry-run", action="store_true", help="only count what would go")
        p.add_argument("--json", action="store_true")

        p = sub.add_parser("stats", help="counts per status and type, oldest pending age")
        p.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, "handle_" + options["subcommand"])
        try:
            handler(options)
        except (OperationNotFound, BankNotFound) as exc:
            raise CommandError(str(exc), returncode=EXIT_NOT_FOUND) from None
        except HindsightError as exc:
            raise CommandError(str(exc), returncode=EXIT_REFUSED) from None

    # -- output -------------------------------------------------------------------------------
    def emit_json(self, data: object) -> None:
        self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, indent=2))

    def bank_or_all(self, bank_id: str | None) -> Bank | Any:
        # Through banks.access like every surface: the shell sees every bank (no key scope).
        return visible_bank(None, bank_id) if bank_id else visible_banks(None)

    # -- list / get -----------------------------------------------------------------------------
    def handle_list(self, options: dict[str, Any]) -> None:
        try:
            statuses = parse_statuses(options["status"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        query = services.operations_for(self.bank_or_all(options["bank"]))
        if statuses:
            query = query.filter(status__in=statuses)
        if options["type"]:
            query = query.filter(type__in=options["type"])
        rows = list(query.order_by("-created_at", "-id")[: options["limit"]])
        if options["json"]:
            self.emit_json({"operations": OperationSerializer(rows, many=True).data})
            return
        if not rows:
            self.stdout.write("No operations.")
            return
        table = [
            [str(op.pk), op.bank.bank_id, op.type, op.status,
             progress_text(op.progress, op.total, op.status), format_timestamp(op.created_at),
             format_duration(wait_time(op)), format_duration(run_time(op))]
            for op in rows
        ]
        headers = ["ID", "BANK", "TYPE", "STATUS", "PROGRESS", "CREATED", "WAIT", "DURATION"]
        self.stdout.write(render_table(headers, table))
        more = " (newest first; --limit for more)" if len(rows) == options["limit"] else ""
        self.stdout.write(f"{plural(len(rows), 'operation')}{more}")

    def handle_get(self, options: dict[str, Any]) -> None:
        op = maintenance.find_operation_by_prefix(options["operation_id"])
        if options["json"]:
            data = OperationSerializer(op, context={"full_result": True}).data
            data["worker_id"] = op.worker_id
            data["retry_count"] = op.lost_count
            self.emit_json(data)
            return
        fields = [
            ("Operation", str(op.pk)), ("Bank", op.bank.bank_id), ("Type", op.type),
            ("Status", op.status), ("Progress", progress_text(op.progress, op.total, op.status)),
            ("Stage", op.stage or "—"), ("Failed items", f"{op.failed_items_count:,}"),
            ("Created", format_timestamp(op.created_at)),
            ("Started", format_timestamp(op.started_at)),
            ("Completed", format_timestamp(op.completed_at)),
            ("Wait time", format_duration(wait_time(op))),
            ("Duration", format_duration(run_time(op))),
            ("Attempt", str(op.attempt)), ("Lost runs", str(op.lost_count)),
            ("Worker", op.worker_id or "—"), ("Heartbeat", format_timestamp(op.heartbeat_at)),
            ("Error", f"{op.error_type + ': ' if op.error_type else ''}{op.error or '—'}"),
            ("Summary", json.dumps(op.summary) if op.summary else "—"),
        ]
        width = max(len(name) for name, _ in fields)
        for name, value in fields:
            self.stdout.write(f"{name.ljust(width)}  {value}")
        failures = OperationItemFailure.objects.filter(operation=op).order_by("index")
        shown = list(failures[:FAILED_ITEMS_SHOWN])
        if shown:
            self.stdout.write("")
            self.stdout.write(render_table(["INDEX", "ERROR"], [[f.index, f.error] for f in shown]))
            if op.failed_items_count > len(shown):
                self.stdout.write(f"... and {op.failed_items_count - len(shown):,} more")

    # -- cancel / retry -------------------------------------------------------------------------
    def _checked_ids(self, raw_ids: list[str]) -> list[str]:
        ids, malformed = maintenance.parse_ids(raw_ids)
        if malformed:
            bad = [raw for raw in raw_ids if maintenance.parse_ids([raw])[1]]
            raise CommandError(f"Invalid operation id: {', '.join(bad)}", returncode=EXIT_USAGE)
        return [str(pk) for pk in ids]

    def handle_cancel(self, options: dict[str, Any]) -> None:
        ids = self._checked_ids(options["operation_ids"])
        statuses: list[str] | None = None
        if options["all_pending"] or options["status"]:
            try:
                statuses = parse_statuses(options["status"])
            except ValueError as exc:
                raise CommandError(str(exc), returncode=EXIT_USAGE) from None
            if options["all_pending"]:
                statuses.append(OperationStatus.PENDING)
            if not options["bank"]:
                raise CommandError("--all-pending and --status need --bank", returncode=EXIT_USAGE)
        if not ids and statuses is None:
            raise CommandError("give operation ids, or --bank with --all-pending or --status",
                               returncode=EXIT_USAGE)
        banks = self.bank_or_all(options["bank"])
        outcome = services.cancel_operations(banks, ids or None, statuses)
        if options["json"]:
            self.emit_json(outcome.as_dict())
        else:
            parts = [f"Cancelled {plural(len(outcome.cancelled), 'operation')}"]
            if outcome.already_terminal:
                verb = "was" if outcome.already_terminal == 1 else "were"
                parts.append(f"{outcome.already_terminal:,} {verb} already finished")
            if outcome.not_found:
                parts.append(f"{outcome.not_found:,} not found")
            self.stdout.write("; ".join(parts) + ".")
        if outcome.not_found:
            raise CommandError(f"{plural(outcome.not_found, 'operation')} not found",
                               returncode=EXIT_NOT_FOUND)
        if outcome.already_terminal:
            raise CommandError(f"{plural(outcome.already_terminal, 'operation')} already "
                               "finished, not cancelled", returncode=EXIT_REFUSED)

    def handle_retry(self, options: dict[str, Any]) -> None:
        ids = self._checked_ids(options["operation_ids"])
        outcome = maintenance.retry_operations(ids)
        if options["json"]:
            self.emit_json(outcome.as_dict())
        else:
            parts = [f"Retried {plural(len(outcome.retried), 'operation')}"]
            for status, n in sorted(outcome.not_retryable.items()):
                verb = "was" if n == 1 else "were"
                parts.append(f"{n:,} {verb} {status} (only failed or cancelled can be retried)")
            if outcome.not_found:
                parts.append(f"{outcome.not_found:,} not found")
            self.stdout.write("; ".join(parts) + ".")
        if outcome.not_found:
            raise CommandError(f"{plural(outcome.not_found, 'operation')} not found",
                               returncode=EXIT_NOT_FOUND)
        if outcome.not_retryable:
            skipped = sum(outcome.not_retryable.values())
            raise CommandError(f"{plural(skipped, 'operation')} could not be retried",
                               returncode=EXIT_REFUSED)

    # -- reap / prune / stats -------------------------------------------------------------------
    def handle_reap(self, options: dict[str, Any]) -> None:
        outcome = services.reap()
        if options["json"]:
            self.emit_json({"requeued": outcome.requeued, "failed": outcome.failed,
                            "redispatched": outcome.redispatched})
            return
        self.stdout.write(
            f"Requeued {plural(len(outcome.requeued), 'operation')} whose worker was lost; "
            f"failed {plural(len(outcome.failed), 'operation')} whose worker was lost "
            f"{settings.HINDSIGHT_MAX_ATTEMPTS} times (HINDSIGHT_MAX_ATTEMPTS); "
            f"re-dispatched {plural(len(outcome.redispatched), 'pending operation')}."
        )
        for pk in outcome.requeued:
            self.stdout.write(f"  requeued {pk}")
        for pk in outcome.failed:
            self.stdout.write(f"  failed   {pk}")

    def handle_prune(self, options: dict[str, Any]) -> None:
        if not options["older_than"] and settings.HINDSIGHT_RETENTION_DAYS == 0:
            raise CommandError("HINDSIGHT_RETENTION_DAYS=0 keeps operations forever; "
                               "give --older-than to prune anyway")
        older_than = options["older_than"] or timedelta(days=settings.HINDSIGHT_RETENTION_DAYS)
        outcome = maintenance.prune_terminal(older_than, dry_run=options["dry_run"])
        if options["json"]:
            self.emit_json(outcome.as_dict())
            return
        verb = "Would delete" if outcome.dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {plural(outcome.total, 'terminal operation')} finished before "
            f"{format_timestamp(outcome.cutoff)} (their memories stay)."
        )
        if outcome.counts:
            rows = [[t, s, n] for (t, s), n in sorted(outcome.counts.items())]
            self.stdout.write(render_table(["TYPE", "STATUS", "COUNT"], rows))

    def handle_stats(self, options: dict[str, Any]) -> None:
        stats = maintenance.operation_stats()
        if options["json"]:
            self.emit_json(stats)
            return
        statuses = OperationStatus.values
        rows: list[list[object]] = [
            [t, *[stats["by_type_and_status"][t].get(s, 0) for s in statuses], stats["by_type"][t]]
            for t in stats["by_type"]
        ]
        rows.append(["all", *[stats["by_status"][s] for s in statuses], stats["total"]])
        self.stdout.write(render_table(["TYPE", *[s.upper() for s in statuses], "TOTAL"], rows))
        age = stats["oldest_pending_age_seconds"]
        oldest = "none pending" if age is None else (
            "oldest waiting " + format_duration(timedelta(seconds=age))
        )
        self.stdout.write(
            f"Running: {stats['running']:,}. Pending: {stats['pending']:,} ({oldest})."
        )

