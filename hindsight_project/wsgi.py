"""WSGI entry point (gunicorn, and ``runserver`` in its serving child process only).

Starting the embedded executor here, not in ``AppConfig.ready()``, means management commands
never start one, and the autoreloader's parent process never runs operations twice.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hindsight_project.settings")

application = get_wsgi_application()

from hindsight_project.production import refuse_insecure_start  # noqa: E402

refuse_insecure_start()

from operations.executor import get_executor  # noqa: E402  (needs the app registry)

get_executor().start()
