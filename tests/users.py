"""Test users in the real role groups (the ones reserve's migration creates)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "correct horse battery staple"
# Every migration that gives the roles permissions, in order, with its function that does it.
ROLE_MIGRATIONS = (
    ("reserve.migrations.0003_roles", "create_roles"),
    ("reserve.migrations.0005_chainstate_roles", "grant"),
    ("reserve.migrations.0007_proof_roles", "grant"),
    ("reserve.migrations.0009_policy_roles", "grant"),
    ("reserve.migrations.0014_wallet_membership_rules", "grant"),
    ("reserve.migrations.0015_import_batches", "grant"),
)


def ensure_roles() -> None:
    """Transactional tests flush the tables after themselves, taking the migration-made groups along."""
    if not Group.objects.filter(name="operator").exists():
        for module, function in ROLE_MIGRATIONS:
            getattr(import_module(module), function)(django_apps, None)


def make_user(username: str, *roles: str, staff: bool = False, superuser: bool = False) -> Any:
    """A user in `roles` (which must exist), reloaded so its permission cache is fresh."""
    ensure_roles()
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, is_staff=staff, is_superuser=superuser
    )
    groups = list(Group.objects.filter(name__in=roles))
    assert len(groups) == len(set(roles)), f"unknown role among {roles}"
    user.groups.add(*groups)
    return get_user_model().objects.get(pk=user.pk)
