"""The project's URLs plus the django-rq dashboard at /django-rq/, as the RQ deployment mounts
it; lets the admin's RQ link be tested on any branch."""

from __future__ import annotations

from django.urls import include, path

from hindsight_project.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("django-rq/", include("django_rq.urls")), *project_urlpatterns]
