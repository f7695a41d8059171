from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class OperationsConfig(AppConfig):
    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Built-in job types register when ``operations.jobs`` is imported; deployments (and the
        # fault-injection jobs of the scale-out tests) add or replace types by module name.
        import_module("operations.jobs")
        for module in settings.HINDSIGHT_JOB_MODULES:
            import_module(module)
