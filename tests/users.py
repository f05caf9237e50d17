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
    ("reserve.migrations.0021_signing_roles", "grant"),
    ("reserve.migrations.0043_period_attestation", "grant"),
    ("reserve.migrations.0061_request_reconciliation_role", "grant"),
    ("reserve.migrations.0062_wallet_label", "grant"),
)


def ensure_permissions() -> None:
    """Every model's content type and permissions (default and Meta ones), created where missing.

    Django re-creates them after a flush only when it does not inhibit post_migrate, and its
    create_permissions skips apps whose models module the registry no longer reports."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    for model in django_apps.get_models():
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
        options = model._meta
        wanted = [
            (f"{action}_{options.model_name}", f"Can {action} {options.verbose_name_raw}")
            for action in options.default_permissions
        ]
        for codename, name in [*wanted, *options.permissions]:
            Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name[:255]}
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
