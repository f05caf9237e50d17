"""Fixtures for policy tests: policy administrators and active policies made through the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from policy.models import PolicyVersion
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from tests.policy.builders import PERIMETER, T0


def make_user(username: str, *roles: str) -> User:
    user = User.objects.create_user(username=username)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def admins(db) -> tuple[User, User, User]:
    """Three policy administrators: an author and two reviewers."""
    return tuple(make_user(name, "policy_admin") for name in ("ana", "bruno", "carla"))  # type: ignore[return-value]


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
