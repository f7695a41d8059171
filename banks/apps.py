from django.apps import AppConfig


class BanksConfig(AppConfig):
    name = "banks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import admin_apikeys  # noqa: F401  (registers the API key admin)
