"""Who may act on policies is said in policy's own permissions, never in group names: a group
called policy_admin that lacks them is refused, an account holding only them may act."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.contrib.auth.models import Group, Permission, User

from config.errors import PermissionDenied
from policy.models import PolicyBreach
from policy.permissions import APPROVE_VERSION, DRAFT_VERSION, POLICY_PERMISSIONS, RESOLVE_BREACH, RETIRE_POLICY
from policy.services import (
    policy_approve,
    policy_breach_resolve,
    policy_create_draft,
    policy_detect,
    policy_propose_retirement,
)
from tests.policy.builders import BTC, PERIMETER, T0, at, inbound
from tests.policy.conftest import make_user, permission
from tests.policy.memory_facts import MemoryFacts

CAP = [{"type": "holdings_cap", "params": {"max_sats": 10 * BTC}}]


def in_groups_without_the_permissions(username: str) -> User:
    """A member of groups named like the roles that act on policies, stripped of policy's permissions."""
    user = User.objects.create_user(username=username)
    for name in ("policy_admin", "operator"):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="policy"))
        user.groups.add(group)
    return User.objects.get(pk=user.pk)


def breach_of(cap_sats: int) -> PolicyBreach:
    """An open breach of a holdings cap of `cap_sats`, by a movement nobody proposed."""
    facts = MemoryFacts()
    facts.book(inbound(cap_sats + BTC, when=at(days=2)))
    return policy_detect(change=replace(inbound(BTC, when=at(days=2)), observed=True), facts=facts)[0]


@pytest.mark.django_db
class TestThePermissionIsTheVocabulary:
    def test_every_permission_the_services_check_is_declared_by_a_policy_model(self):
        declared = {f"policy.{codename}" for codename in Permission.objects.values_list("codename", flat=True)}

        assert set(POLICY_PERMISSIONS) <= declared
        assert all(permission(name).content_type.app_label == "policy" for name in POLICY_PERMISSIONS)

    def test_a_group_named_policy_admin_without_the_permissions_is_refused_everything(self, active_policy, admins):
        version = active_policy(CAP)
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=admins[0])
        breach = breach_of(10 * BTC)
        member = in_groups_without_the_permissions("gus")

        with pytest.raises(PermissionDenied) as drafting:
            policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=member)
        with pytest.raises(PermissionDenied) as approving:
            policy_approve(version=draft, approver=member)
        with pytest.raises(PermissionDenied) as retiring:
            policy_propose_retirement(policy=version.policy, effective_from=at(days=5), author=member)
        with pytest.raises(PermissionDenied) as resolving:
            policy_breach_resolve(breach=breach, reason="sent back", actor=member)

        assert drafting.value.fields == {"author": [f"needs the permission {DRAFT_VERSION} to draft a policy"]}
        assert approving.value.fields == {"approver": [f"needs the permission {APPROVE_VERSION} to approve a policy"]}
        assert retiring.value.fields == {"author": [f"needs the permission {RETIRE_POLICY} to propose a retirement"]}
        assert resolving.value.fields == {"actor": [f"needs the permission {RESOLVE_BREACH} to resolve a breach"]}
        assert draft.approvals.count() == 0

    def test_an_account_holding_only_the_permissions_acts_in_no_group(self, active_policy, admins):
        version = active_policy(CAP)
        author = make_user("ines", DRAFT_VERSION)
        reviewers = [make_user(name, APPROVE_VERSION) for name in ("jon", "kim")]
        retirer, resolver = make_user("lea", RETIRE_POLICY), make_user("max", RESOLVE_BREACH)
        assert not any(user.groups.exists() for user in (author, *reviewers, retirer, resolver))

        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=author)
        for reviewer in reviewers:
            draft = policy_approve(version=draft, approver=reviewer)
        retirement = policy_propose_retirement(policy=version.policy, effective_from=at(days=5), author=retirer)
        resolved = policy_breach_resolve(breach=breach_of(10 * BTC), reason="sent back", actor=resolver)

        assert draft.status == "active"
        assert retirement.kind == "retirement"
        assert (resolved.status, resolved.resolved_by) == ("resolved", resolver)

    def test_each_permission_opens_only_its_own_action(self, admins):
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=admins[0])
        drafter = make_user("nia", DRAFT_VERSION, RETIRE_POLICY, RESOLVE_BREACH)

        with pytest.raises(PermissionDenied):
            policy_approve(version=draft, approver=drafter)
        with pytest.raises(PermissionDenied):
            policy_create_draft(
                name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=make_user("oli", APPROVE_VERSION)
            )

    def test_an_inactive_account_is_refused_whatever_it_holds(self, admins):
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=admins[0])
        reviewer = admins[1]
        reviewer.is_active = False
        reviewer.save(update_fields=["is_active"])

        with pytest.raises(PermissionDenied):
            policy_approve(version=draft, approver=User.objects.get(pk=reviewer.pk))
