"""The roles' share of policy's permissions, as reserve's migration grants them: the same
people act on policies as when the policy services checked group names."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from policy.permissions import APPROVE_VERSION, DRAFT_VERSION, POLICY_PERMISSIONS, RESOLVE_BREACH, RETIRE_POLICY
from tests.users import make_user

pytestmark = pytest.mark.django_db


def test_policy_admins_draft_approve_retire_and_resolve_operators_only_resolve() -> None:
    # when
    granted = {
        group.name: {
            f"policy.{codename}"
            for codename in group.permissions.filter(content_type__app_label="policy").values_list(
                "codename", flat=True
            )
        }
        for group in Group.objects.filter(name__in=("operator", "approver", "policy_admin", "auditor"))
    }
    # then
    assert granted == {
        "policy_admin": {DRAFT_VERSION, APPROVE_VERSION, RETIRE_POLICY, RESOLVE_BREACH},
        "operator": {RESOLVE_BREACH},
        "approver": set(),
        "auditor": set(),
    }
    assert set(POLICY_PERMISSIONS) == granted["policy_admin"]


def test_the_role_users_of_the_tests_carry_the_grants() -> None:
    # given
    admin, operator = make_user("pam", "policy_admin"), make_user("oz", "operator")
    approver = make_user("al", "approver")
    # then
    assert all(admin.has_perm(name) for name in POLICY_PERMISSIONS)
    assert [name for name in POLICY_PERMISSIONS if operator.has_perm(name)] == [RESOLVE_BREACH]
    assert not any(approver.has_perm(name) for name in POLICY_PERMISSIONS)
