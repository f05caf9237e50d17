"""Fixtures shared by every test package: one user per role (staff, so the same people work in
the admin, the API and the services), and the live regtest node (tests/regtest/fixtures.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.users import make_user

pytest_plugins = ["tests.regtest.fixtures"]


@pytest.fixture
def operator(db: None) -> Any:
    return make_user("olga", "operator", staff=True)


@pytest.fixture
def operator2(db: None) -> Any:
    return make_user("omar", "operator", staff=True)


@pytest.fixture
def approver(db: None) -> Any:
    return make_user("ana", "approver", staff=True)


@pytest.fixture
def approver2(db: None) -> Any:
    return make_user("bruno", "approver", staff=True)


@pytest.fixture
def auditor(db: None) -> Any:
    return make_user("aude", "auditor", staff=True)


@pytest.fixture
def policy_admins(db: None) -> list[Any]:
    return [make_user(name, "policy_admin", staff=True) for name in ("pia", "paul", "petra")]
