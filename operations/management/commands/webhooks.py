"""``manage.py webhooks deliver [--once]|list``: run a webhook delivery loop in its own process
(next to, or instead of, the ones in the embedded executor and in every RQ worker; any number
may run at once), or list a bank's subscriptions. Calls ``operations.deliveries`` and
``operations.webhook_services`` only."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from banks.access import visible_bank
from operations import deliveries, webhook_services, webhooks
from operations.exceptions import HindsightError


class Command(BaseCommand):
    help = "Deliver webhooks (a delivery loop in this process) or list a bank's webhooks."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="send due deliveries until stopped")
        deliver.add_argument("--once", action="store_true",
                             help="send what is due now, wait for the answers, exit")
        listing = sub.add_parser("list", help="a bank's subscriptions")
        listing.add_argument("bank_id")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "deliver":
                self.deliver(options["once"])
            else:
                self.list(options["bank_id"], options["json"])
        except HindsightError as exc:
            raise CommandError(str(exc)) from None

    def deliver(self, once: bool) -> None:
        if once:
            sent = total = 0
            while sent := deliveries.deliver_due():
                total += sent
            self.stdout.write(f"{total} attempt{'s' if total != 1 else ''} made")
            return
        loop = deliveries.DeliveryLoop("hindsight-webhooks-command")
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        loop.start()
        self.stdout.write("delivering webhooks; Ctrl-C to stop")
        stopped.wait()
        loop.stop()

    def list(self, bank_id: str, as_json: bool) -> None:
        bank = visible_bank(None, bank_id)
        rows = [
            {"webhook_id": str(hook.pk), "url": hook.url, "events": hook.events,
             "enabled": hook.enabled, "secret": webhooks.mask_secret(hook.secret)}
            for hook in webhook_services.webhooks_of(bank)
        ]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            events = ",".join(row["events"]) or "operation.*"
            state = "enabled" if row["enabled"] else "disabled"
            self.stdout.write(f"{row['webhook_id']}  {state:8}  {events:40}  {row['url']}")
