"""Start-up refusals for an unsafe production configuration.

Called where serving starts (``hindsight_project/wsgi.py``: gunicorn, and ``runserver``'s serving
process), not at settings import, so the test suite and ``manage.py`` commands run without a
secret while a server never runs on a key everyone can read in the source.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 32


def refuse_insecure_start() -> None:
    """Raise ``ImproperlyConfigured`` when ``DEBUG`` is off and ``SECRET_KEY`` is the built-in
    default (or too short to be a real secret). ``make run`` generates a random key into
    ``data/secret_key`` on first start and passes it as ``SECRET_KEY_FILE``."""
    if settings.DEBUG:
        return
    if settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY:
        raise ImproperlyConfigured(
            "Refusing to start with DEBUG off and the default SECRET_KEY: set SECRET_KEY or "
            "SECRET_KEY_FILE (make run generates data/secret_key for you)."
        )
    if len(settings.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        raise ImproperlyConfigured(
            f"Refusing to start: SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters."
        )
