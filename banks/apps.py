from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _restore_search_triggers(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    from .search_schema import ensure_sqlite_triggers

    ensure_sqlite_triggers(connections[using])


class BanksConfig(AppConfig):
    name = "banks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_restore_search_triggers, sender=self)
