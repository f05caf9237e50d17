"""Fixtures for policy tests: users holding policy's own permissions (granted directly: policy
knows no roles, and these tests do not lean on reserve's role migration) and active policies
made through the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from policy.models import PolicyVersion
from policy.permissions import POLICY_PERMISSIONS
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from tests.policy.builders import PERIMETER, T0


def permission(name: str) -> Permission:
    """The Permission row for "app_label.codename"."""
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def make_user(username: str, *permissions: str) -> User:
    """A user holding `permissions` ("policy.approve_policyversion", ...) directly, in no group."""
    user = User.objects.create_user(username=username)
    user.user_permissions.add(*(permission(name) for name in permissions))
    return User.objects.get(pk=user.pk)  # a fresh permission cache


@pytest.fixture
def admins(db) -> tuple[User, User, User]:
    """Three holders of every policy permission: an author and two reviewers."""
    return tuple(make_user(name, *POLICY_PERMISSIONS) for name in ("ana", "bruno", "carla"))  # type: ignore[return-value]


@pytest.fixture
def active_policy(admins) -> Callable[..., PolicyVersion]:
    author, first, second = admins

    def make(
        rules: list[dict[str, Any]],
        *,
        name: str = "reserve caps",
        scope: PolicyScope = PERIMETER,
        effective_from: datetime = T0,
        effective_to: datetime | None = None,
    ) -> PolicyVersion:
        draft = policy_create_draft(
            name=name, scope=scope, rules=rules, effective_from=effective_from, effective_to=effective_to, author=author
        )
        policy_approve(version=draft, approver=first)
        return policy_approve(version=draft, approver=second)

    return make
