"""Policy versions: drafted and approved by two other policy admins, in force by effective time,
immutable once approved."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from config.errors import Conflict, PermissionDenied, ValidationFailed
from policy.models import PolicyEvaluation, PolicyVersion, PolicyVersionApproval
from policy.permissions import APPROVE_VERSION, RESOLVE_BREACH
from policy.selectors import policy_evaluate, policy_version_rules_in_words, versions_in_force
from policy.services import policy_approve, policy_create_draft, policy_propose_retirement
from policy.types import PolicyScope
from tests.owner import owner_cursor
from tests.policy.builders import BTC, PERIMETER, T0, at, inbound
from tests.policy.conftest import make_user
from tests.policy.memory_facts import MemoryFacts

CAP = [{"type": "holdings_cap", "params": {"max_sats": 10 * BTC}}]


@pytest.mark.django_db
class TestApproval:
    def test_a_version_becomes_active_with_two_approvals_by_others(self, admins):
        author, first, second = admins
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=author)
        status_as_drafted = draft.policy.status

        after_one = policy_approve(version=draft, approver=first, comment="checked the cap")
        after_two = policy_approve(version=draft, approver=second)

        assert (draft.version, draft.status, status_as_drafted) == (1, "draft", "draft")
        assert after_one.status == "draft"
        assert after_two.status == after_two.policy.status == "active"
        assert after_two.activated_at is not None
        assert list(draft.approvals.values_list("approver__username", flat=True).order_by("pk")) == ["bruno", "carla"]

    def test_the_author_cannot_approve_and_nobody_approves_twice(self, admins):
        author, first, _ = admins
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=author)
        policy_approve(version=draft, approver=first)

        with pytest.raises(PermissionDenied) as own:
            policy_approve(version=draft, approver=author)
        with pytest.raises(Conflict) as twice:
            policy_approve(version=draft, approver=first)

        assert own.value.fields == {"approver": ["the author cannot approve their own version"]}
        assert "approver" in twice.value.fields
        assert PolicyVersion.objects.get(pk=draft.pk).status == "draft"

    def test_only_holders_of_the_permissions_draft_and_approve(self, admins):
        author, _, _ = admins
        operator = make_user("otto", RESOLVE_BREACH)
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=author)

        with pytest.raises(PermissionDenied):
            policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=operator)
        with pytest.raises(PermissionDenied):
            policy_approve(version=draft, approver=operator)

    def test_an_approved_version_is_not_approved_again(self, active_policy, admins):
        version = active_policy(CAP)

        with pytest.raises(Conflict):
            policy_approve(version=version, approver=make_user("dora", APPROVE_VERSION))

    def test_bad_rules_are_refused_naming_the_field_and_nothing_is_stored(self, admins):
        rules = [*CAP, {"type": "velocity_limit", "params": {"max_sats": 1, "window_seconds": 60}}]

        with pytest.raises(ValidationFailed) as caught:
            policy_create_draft(name="caps", scope=PERIMETER, rules=rules, effective_from=T0, author=admins[0])

        assert caught.value.fields == {"rules[1].params.direction": ["is required"]}
        assert not PolicyVersion.objects.exists()

    def test_a_policy_keeps_its_scope_and_numbers_its_versions(self, active_policy, admins):
        active_policy(CAP, name="caps")

        second = policy_create_draft(
            name="caps", scope=PERIMETER, rules=CAP, effective_from=at(days=1), author=admins[1]
        )
        with pytest.raises(ValidationFailed) as caught:
            policy_create_draft(
                name="caps", scope=PolicyScope("wallet", 4), rules=CAP, effective_from=T0, author=admins[0]
            )

        assert second.version == 2
        assert "scope" in caught.value.fields

    def test_rules_are_described_in_words(self, active_policy):
        version = active_policy(CAP)

        assert policy_version_rules_in_words(version=version) == [
            "Holdings cap: the scope may hold at most 10.00000000 BTC."
        ]


@pytest.mark.django_db
class TestVersionsInForce:
    def test_the_newer_version_applies_from_its_effective_time_exactly(self, active_policy):
        # given v1 capping at 10 BTC from T0 and v2 capping at 1 BTC from day 10
        first = active_policy(CAP)
        second = active_policy([{"type": "holdings_cap", "params": {"max_sats": BTC}}], effective_from=at(days=10))
        switch = at(days=10)

        # when a 2 BTC inflow is judged a microsecond before and exactly at the switch
        before = policy_evaluate(change=inbound(2 * BTC, when=switch - (at(microseconds=1) - T0)), facts=MemoryFacts())
        exactly = policy_evaluate(change=inbound(2 * BTC, when=switch), facts=MemoryFacts())

        # then each is judged by the version in force at its time
        assert (before.outcome, before.versions, before.lines[0].policy_version) == ("needs_approval", (first.pk,), 1)
        assert (exactly.outcome, exactly.versions, exactly.lines[0].policy_version) == ("deny", (second.pk,), 2)

    def test_nothing_applies_outside_the_effective_period_or_before_approval(self, active_policy, admins):
        active_policy(CAP, effective_from=at(days=1), effective_to=at(days=2))
        policy_create_draft(name="draft only", scope=PERIMETER, rules=CAP, effective_from=T0, author=admins[0])

        assert versions_in_force(scopes=[PERIMETER], at=at(hours=23)) == []
        assert len(versions_in_force(scopes=[PERIMETER], at=at(days=1))) == 1
        assert versions_in_force(scopes=[PERIMETER], at=at(days=2)) == []

    def test_a_retirement_is_approved_like_a_version_and_ends_the_policy(self, active_policy, admins):
        version = active_policy(CAP)
        author, first, second = admins
        retirement = policy_propose_retirement(policy=version.policy, effective_from=at(days=5), author=second)
        policy_approve(version=retirement, approver=author)
        policy_approve(version=retirement, approver=first)

        version.refresh_from_db()
        assert version.status == version.policy.status == "retired"
        assert versions_in_force(scopes=[PERIMETER], at=at(days=4)) == [version]
        assert versions_in_force(scopes=[PERIMETER], at=at(days=5)) == []
        assert policy_version_rules_in_words(version=retirement)[0].startswith("Retires the policy reserve caps")

    def test_a_draft_can_be_tried_on_a_transfer_without_storing_anything(self, active_policy, admins):
        active_policy(CAP)
        draft = policy_create_draft(
            name="reserve caps",
            scope=PERIMETER,
            rules=[{"type": "holdings_cap", "params": {"max_sats": BTC}}],
            effective_from=at(days=30),
            author=admins[1],
        )

        in_force = policy_evaluate(change=inbound(2 * BTC, when=at(days=1)), facts=MemoryFacts())
        with_draft = policy_evaluate(change=inbound(2 * BTC, when=at(days=1)), facts=MemoryFacts(), versions=[draft])

        assert in_force.lines[0].verdict == "allow"
        assert (with_draft.lines[0].verdict, with_draft.versions) == ("deny", (draft.pk,))
        assert not PolicyEvaluation.objects.exists()

    def test_only_the_scopes_a_change_touches_are_consulted(self, active_policy):
        active_policy(CAP, name="wallet 9 cap", scope=PolicyScope("wallet", 9))

        decision = policy_evaluate(change=inbound(20 * BTC, when=at(days=1)), facts=MemoryFacts())

        assert [line.rule_type for line in decision.lines] == ["approval_quorum"]


@pytest.mark.django_db(transaction=True)
class TestDatabaseGuards:
    def test_approved_versions_and_approvals_cannot_be_rewritten(self, active_policy):
        version = active_policy(CAP)

        for statement in (
            "UPDATE policy_policyversion SET rules = '[]' WHERE id = %s",
            "UPDATE policy_policyversion SET status = 'draft' WHERE id = %s",
            "DELETE FROM policy_policyversion WHERE id = %s",
            "UPDATE policy_policyversionapproval SET comment = 'x' WHERE version_id = %s",
            "DELETE FROM policy_policyversionapproval WHERE version_id = %s",
        ):
            # refused by the triggers even to the owner (the service role has no UPDATE/DELETE at all)
            with pytest.raises(IntegrityError), owner_cursor() as cursor, transaction.atomic():
                cursor.execute(statement, [version.pk])

        assert PolicyVersion.objects.get(pk=version.pk).rules == CAP
        assert PolicyVersionApproval.objects.filter(version=version).count() == 2

    def test_a_draft_cannot_be_activated_without_two_approvals(self, admins):
        draft = policy_create_draft(name="caps", scope=PERIMETER, rules=CAP, effective_from=T0, author=admins[0])
        policy_approve(version=draft, approver=admins[1])

        with pytest.raises(IntegrityError), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE policy_policyversion SET status = 'active', activated_at = now() WHERE id = %s", [draft.pk]
            )
