"""Way 6 (issue 11): policy approvals as the database keeps them, tried with raw SQL on the
test's own connection (the service's role). Only triggers are relied on; what the owner can do
behind them (disable them) is played as the owner and caught by verification."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from policy.models import PolicyVersion, PolicyVersionApproval
from policy.permissions import APPROVE_VERSION
from policy.selectors import policy_versions_unbound, version_content_sha256
from policy.services import policy_approve, policy_create_draft
from tests.owner import behind_the_triggers
from tests.policy.builders import PERIMETER, T0
from tests.policy.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)

CAP = [{"type": "holdings_cap", "params": {"max_sats": 1_000}}]
LOOSER = '[{"type": "holdings_cap", "params": {"max_sats": 999999999}}]'


def _refused(statement: str, params: list[Any]) -> None:
    """Refused by a trigger (IntegrityError) or, for the service's role, by privilege already."""
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def _draft(author: User) -> PolicyVersion:
    return policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=author)


def _snapshot(version: PolicyVersion) -> tuple[object, ...]:
    row = PolicyVersion.objects.get(pk=version.pk)
    approvals = list(
        PolicyVersionApproval.objects.filter(version=version)
        .order_by("pk")
        .values_list("approver_id", "content_sha256")
    )
    return row.rules, row.status, row.author_id, row.effective_from, approvals


def test_an_approval_binds_the_hash_of_the_content_it_approved(admins) -> None:
    author, first, _ = admins
    draft = _draft(author)
    policy_approve(version=draft, approver=first)
    approval = PolicyVersionApproval.objects.get(version=draft)
    assert len(approval.content_sha256) == 64
    assert approval.content_sha256 == version_content_sha256(version_id=draft.pk)
    # a raw approval that names other content is refused
    second = make_user("dora", APPROVE_VERSION)
    _refused(
        "INSERT INTO policy_policyversionapproval (version_id, approver_id, comment, approved_at, content_sha256)"
        " VALUES (%s, %s, '', now(), %s)",
        [draft.pk, second.pk, "0" * 64],
    )
    assert PolicyVersionApproval.objects.filter(version=draft).count() == 1


def test_content_with_an_approval_cannot_be_edited(admins) -> None:
    author, first, second = admins
    draft = _draft(author)
    policy_approve(version=draft, approver=first)
    before = _snapshot(draft)
    for statement in (
        f"UPDATE policy_policyversion SET rules = '{LOOSER}' WHERE id = %s",
        "UPDATE policy_policyversion SET effective_from = effective_from - interval '1 day' WHERE id = %s",
        "UPDATE policy_policyversion SET effective_to = effective_from + interval '1 day' WHERE id = %s",
    ):
        _refused(statement, [draft.pk])
    _refused("UPDATE policy_policy SET scope_kind = 'wallet', scope_object_id = 1 WHERE id = %s", [draft.policy_id])
    assert _snapshot(draft) == before
    # and once active, neither
    policy_approve(version=draft, approver=second)
    active = _snapshot(draft)
    _refused(f"UPDATE policy_policyversion SET rules = '{LOOSER}' WHERE id = %s", [draft.pk])
    assert _snapshot(draft) == active


def test_an_approval_by_a_user_without_the_role_is_refused(admins) -> None:
    author, _, _ = admins
    draft = _draft(author)
    outsider = User.objects.create_user(username="eve")
    inactive = make_user("ivan", APPROVE_VERSION)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    for user_id in (outsider.pk, inactive.pk, author.pk):
        _refused(
            "INSERT INTO policy_policyversionapproval (version_id, approver_id, comment, approved_at, content_sha256)"
            " VALUES (%s, %s, '', now(), '')",
            [draft.pk, user_id],
        )
    assert not PolicyVersionApproval.objects.filter(version=draft).exists()


def test_the_role_through_a_group_or_superuser_is_accepted_by_the_database(admins) -> None:
    from django.contrib.auth.models import Group

    from tests.policy.conftest import permission

    author, _, _ = admins
    draft = _draft(author)
    group = Group.objects.create(name="reviewers-for-this-test")
    group.permissions.add(permission(APPROVE_VERSION))
    member = User.objects.create_user(username="gina")
    member.groups.add(group)
    root = User.objects.create_superuser(username="root", password="x")
    for user_id in (member.pk, root.pk):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO policy_policyversionapproval (version_id, approver_id, comment, approved_at,"
                " content_sha256) VALUES (%s, %s, '', now(), '')",
                [draft.pk, user_id],
            )
    assert PolicyVersionApproval.objects.filter(version=draft).count() == 2


def test_author_and_approvals_are_permanent(admins) -> None:
    author, first, _ = admins
    draft = _draft(author)
    policy_approve(version=draft, approver=first)
    before = _snapshot(draft)
    other = make_user("frank", APPROVE_VERSION)
    _refused("UPDATE policy_policyversion SET author_id = %s WHERE id = %s", [other.pk, draft.pk])
    _refused("UPDATE policy_policyversionapproval SET approver_id = %s WHERE version_id = %s", [other.pk, draft.pk])
    _refused("UPDATE policy_policyversionapproval SET content_sha256 = 'x' WHERE version_id = %s", [draft.pk])
    _refused("DELETE FROM policy_policyversionapproval WHERE version_id = %s", [draft.pk])
    assert _snapshot(draft) == before
    # a draft without approvals keeps its author too
    fresh = policy_create_draft(name="other", scope=PERIMETER, rules=CAP, effective_from=T0, author=author)
    _refused("UPDATE policy_policyversion SET author_id = %s WHERE id = %s", [other.pk, fresh.pk])


def test_content_changed_behind_the_triggers_after_an_approval_does_not_become_active(admins) -> None:
    author, first, second = admins
    draft = _draft(author)
    policy_approve(version=draft, approver=first)
    with behind_the_triggers("policy_policyversion") as cursor:
        cursor.execute(f"UPDATE policy_policyversion SET rules = '{LOOSER}' WHERE id = %s", [draft.pk])
    # when: the second approval comes (of the content as it now stands)
    version = policy_approve(version=draft, approver=second)
    # then: one approval names the old content, so the quorum is not met and it stays a draft
    assert version.status == PolicyVersion.Status.DRAFT
    assert PolicyVersion.objects.get(pk=draft.pk).status == PolicyVersion.Status.DRAFT
    hashes = set(PolicyVersionApproval.objects.filter(version=draft).values_list("content_sha256", flat=True))
    assert len(hashes) == 2
    # and the database refuses to force it active
    _refused("UPDATE policy_policyversion SET status = 'active', activated_at = now() WHERE id = %s", [draft.pk])


def test_verification_names_an_active_version_whose_content_was_changed(admins) -> None:
    author, first, second = admins
    draft = _draft(author)
    policy_approve(version=draft, approver=first)
    active = policy_approve(version=draft, approver=second)
    assert active.status == PolicyVersion.Status.ACTIVE
    assert policy_versions_unbound() == []
    with behind_the_triggers("policy_policyversion") as cursor:
        cursor.execute(f"UPDATE policy_policyversion SET rules = '{LOOSER}' WHERE id = %s", [draft.pk])
    unbound = policy_versions_unbound()
    assert [(row.version_id, row.policy, row.version, row.approvals_of_content) for row in unbound] == [
        (draft.pk, "caps", 1, 0)
    ]
    assert unbound[0].content_sha256 == version_content_sha256(version_id=draft.pk)
