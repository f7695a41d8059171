"""``manage.py apikeys create NAME [--bank B ...] | list | revoke PREFIX``: a front-end over
``banks.apikeys``; the full key is printed once, at creation, and never again."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from banks.apikeys import ApiKey, create_key, list_keys, revoke_key
from banks.bank_ids import InvalidBankId


class Command(BaseCommand):
    help = "Create, list and revoke API keys."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it (shown only once)")
        create.add_argument("name")
        create.add_argument("--bank", action="append", dest="banks", metavar="BANK_ID",
                            help="limit the key to this bank (repeat for several); "
                                 "default: all banks")
        sub.add_parser("list", help="list keys (prefix, name, scope, last use; never secrets)")
        revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def handle_create(self, options: dict[str, Any]) -> None:
        try:
            issued = create_key(options["name"], options["banks"])
        except InvalidBankId as exc:
            raise CommandError(f"invalid bank id: {exc}") from None
        row = issued.api_key
        self.stdout.write(f"Created API key {row.prefix} '{row.name}' for {row.scope_label()}.")
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(issued.key)

    def handle_list(self, options: dict[str, Any]) -> None:
        rows = list_keys()
        if not rows:
            self.stdout.write("No API keys: the API is open unless HINDSIGHT_REQUIRE_AUTH=1.")
            return
        self.stdout.write(f"{'PREFIX':<10} {'STATUS':<8} {'LAST USED':<20} {'NAME':<24} BANKS")
        for row in rows:
            last = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never"
            status = "active" if row.is_active else "revoked"
            self.stdout.write(
                f"{row.prefix:<10} {status:<8} {last:<20} {row.name:<24} {row.scope_label()}"
            )

    def handle_revoke(self, options: dict[str, Any]) -> None:
        try:
            row = revoke_key(options["prefix"])
        except ApiKey.DoesNotExist:
            raise CommandError(f"no API key with prefix {options['prefix']!r}") from None
        self.stdout.write(f"Revoked API key {row.prefix} '{row.name}'.")
