from django.apps import AppConfig


class BanksConfig(AppConfig):
    name = "banks"
    default_auto_field = "django.db.models.BigAutoField"
