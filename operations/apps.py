from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import autodiscover_modules


class OperationsConfig(AppConfig):
    name = "operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Job types live with their domain (``<app>/jobs``) and register themselves when
        # imported; the engine imports no job module by name. Deployments (and the
        # fault-injection jobs of the scale-out tests) add or replace types by module name.
        autodiscover_modules("jobs")
        for module in settings.HINDSIGHT_JOB_MODULES:
            import_module(module)
