"""Fixtures for import batches: a no-disposal policy in force over the perimeter since 2025."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policy.models import PolicyVersion
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from tests.users import make_user


@pytest.fixture
def no_disposal(policy_admins: list[Any]) -> PolicyVersion:
    author, first, second = policy_admins
    draft = policy_create_draft(
        name="No sale of reserve bitcoin",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"]}}],
        effective_from=datetime(2025, 1, 1, tzinfo=UTC),
        author=author,
    )
    policy_approve(version=draft, approver=first)
    return policy_approve(version=draft, approver=second)


@pytest.fixture
def maker_checker(db: None) -> Any:
    """One person who both operates and approves: the insider who would like to do both."""
    return make_user("mona", "operator", "approver", staff=True)
