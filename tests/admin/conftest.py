"""Admin test cast: a superuser (pytest-django's ``admin_client``), a staff member who may only
look, and a logged-in user who is not staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client


@pytest.fixture
def viewer_client(db) -> Client:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_operation"),
        Permission.objects.get(codename="view_bank"),
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def outsider_client(db) -> Client:
    user = User.objects.create_user("outsider", password="pw", is_staff=False)
    client = Client()
    client.force_login(user)
    return client



@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs ~0.7 s per user created on this 2-core machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
