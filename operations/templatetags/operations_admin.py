"""Template tags for the admin's product chrome."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def rq_dashboard_url() -> str:
    """The django-rq dashboard, in RQ mode and when it is mounted; else empty (no dead link)."""
    if settings.HINDSIGHT_EXECUTOR != "rq":
        return ""
    # django-rq >= 3 names its views in the "django_rq" namespace (mounted at /django-rq/),
    # older releases used rq_home; else its own admin page, when it registered one.
    for name in ("django_rq:home", "rq_home", "admin:django_rq_dashboard_changelist"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""
