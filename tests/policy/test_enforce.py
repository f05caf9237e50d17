"""Enforcement at the gates: evaluations stored, postings refused after the fact is recorded,
and concurrent postings serialized on the scope lock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone

from config.database_roles import service_role
from config.errors import Conflict, PermissionDenied, ValidationFailed
from policy.errors import PolicyDenied
from policy.models import PolicyBreach, PolicyEvaluation
from policy.permissions import RESOLVE_BREACH
from policy.services import (
    policy_breach_resolve,
    policy_detect,
    policy_enforce,
    policy_gated_transaction,
    policy_record_denial,
)
from policy.types import PolicyScope
from tests.owner import owner_cursor
from tests.policy.builders import BTC, approved_by, at, inbound
from tests.policy.conftest import make_user
from tests.policy.memory_facts import MemoryFacts

CAP_105 = [{"type": "holdings_cap", "params": {"max_sats": 105 * BTC}}]


def transfer(number: int, amount_sats: int = BTC):
    change = inbound(amount_sats, when=at(days=1), subject_type="transfer", subject_id=str(number))
    return approved_by(change, 2, 3)


@pytest.fixture
def hundred_btc() -> MemoryFacts:
    facts = MemoryFacts()
    facts.book(inbound(100 * BTC, when=at(hours=1), block_height=880_000))
    return facts


@pytest.mark.django_db
class TestEnforce:
    def test_each_gate_stores_its_evaluation_with_inputs_lines_and_versions(self, active_policy, hundred_btc):
        version = active_policy(CAP_105)
        change = inbound(2 * BTC, when=at(days=1), subject_type="transfer", subject_id="7", provenance_reference="PO-1")

        proposal = policy_enforce(change=change, facts=hundred_btc, gate="proposal")
        approval = policy_enforce(change=approved_by(change, 2, 3), facts=hundred_btc, gate="approval")

        stored = list(PolicyEvaluation.objects.order_by("pk"))
        assert (proposal.outcome, approval.outcome) == ("needs_approval", "allow")
        assert [(row.gate, row.outcome) for row in stored] == [("proposal", "needs_approval"), ("approval", "allow")]
        first = stored[0]
        assert (first.subject_type, first.subject_id) == ("transfer", "7")
        assert first.change["provenance_reference"] == "PO-1"
        assert first.change["amount_sats"] == 2 * BTC
        assert first.versions == [
            {
                "policy_id": version.policy_id,
                "version_id": version.pk,
                "version": 1,
                "name": "reserve caps",
                "scope": "perimeter",
            }
        ]
        assert first.lines[0]["rule_type"] == "holdings_cap"
        assert first.lines[0]["measured_sats"] == 102 * BTC
        assert (first.required_approvals, first.required_role, first.approvals_counted) == (2, "approver", 0)
        assert first.requested_at == at(days=1)
        # A live gate judges the reserve as it stands when the locks are held.
        assert first.evaluated_at > timezone.now() - timedelta(minutes=1)

    def test_a_refused_posting_raises_without_writing_and_can_be_recorded(self, active_policy, hundred_btc):
        active_policy(CAP_105)

        with pytest.raises(PolicyDenied) as caught:
            policy_enforce(change=transfer(1, 6 * BTC), facts=hundred_btc, gate="posting")

        assert isinstance(caught.value, Conflict)
        assert caught.value.code == "policy_denied"
        assert caught.value.decision.outcome == "deny"
        assert "1.00000000 BTC over" in caught.value.message
        assert not PolicyEvaluation.objects.exists()
        record = policy_record_denial(denied=caught.value)
        assert (record.gate, record.outcome, record.subject_id) == ("posting", "deny", "1")

    def test_a_posting_short_of_approvals_is_refused_too(self, active_policy, hundred_btc):
        active_policy(CAP_105)

        with pytest.raises(PolicyDenied) as caught:
            policy_enforce(change=replace(transfer(1), approvals=()), facts=hundred_btc, gate="posting")

        assert caught.value.decision.outcome == "needs_approval"

    def test_gates_are_checked(self, hundred_btc):
        with pytest.raises(ValidationFailed) as unknown:
            policy_enforce(change=transfer(1), facts=hundred_btc, gate="broadcast")
        with pytest.raises(ValidationFailed):
            policy_enforce(change=transfer(1), facts=hundred_btc, gate="observed")

        assert "gate" in unknown.value.fields


@pytest.mark.django_db
class TestDetect:
    def test_an_observed_movement_over_a_continuous_rule_opens_one_breach(self, active_policy, hundred_btc):
        # given a cap of 105 BTC and a 6 BTC donation seen on chain, already booked
        version = active_policy(
            [*CAP_105, {"type": "transfer_limit", "params": {"max_sats": 1, "direction": "inbound"}}]
        )
        donation = inbound(6 * BTC, category="donation", when=at(days=2), block_height=880_123)
        hundred_btc.book(donation)
        observed = replace(donation, observed=True, subject_type="movement", subject_id="txid:0")

        # when detective mode runs, twice (a reconciliation re-run)
        breaches = policy_detect(change=observed, facts=hundred_btc)
        again = policy_detect(change=observed, facts=hundred_btc)

        # then one breach is open for the cap only, and each run left its evaluation
        assert again == breaches
        assert len(breaches) == 1
        breach = breaches[0]
        assert (breach.version_id, breach.rule_type, breach.status) == (version.pk, "holdings_cap", "open")
        assert (breach.measured_sats, breach.limit_sats, breach.block_height) == (106 * BTC, 105 * BTC, 880_123)
        assert PolicyEvaluation.objects.filter(gate="observed", outcome="deny").count() == 2

    def test_a_breach_is_resolved_once_with_a_reason_by_a_holder_of_the_permission(self, active_policy, hundred_btc):
        active_policy(CAP_105)
        hundred_btc.book(inbound(6 * BTC, category="donation", when=at(days=2)))
        observed = replace(inbound(6 * BTC, category="donation", when=at(days=2)), observed=True)
        [breach] = policy_detect(change=observed, facts=hundred_btc)
        operator, auditor = make_user("otto", RESOLVE_BREACH), make_user("aude")

        with pytest.raises(PermissionDenied):
            policy_breach_resolve(breach=breach, reason="returned", actor=auditor)
        with pytest.raises(ValidationFailed) as blank:
            policy_breach_resolve(breach=breach, reason="  ", actor=operator)
        resolved = policy_breach_resolve(breach=breach, reason="donation sent back in tx abc", actor=operator)
        with pytest.raises(Conflict):
            policy_breach_resolve(breach=breach, reason="again", actor=operator)

        assert "reason" in blank.value.fields
        assert (resolved.status, resolved.resolved_by, resolved.resolution_reason) == (
            "resolved",
            operator,
            "donation sent back in tx abc",
        )


@pytest.mark.django_db(transaction=True)
class TestInTransactions:
    def test_enforce_refuses_to_run_outside_a_transaction(self, hundred_btc):
        with pytest.raises(transaction.TransactionManagementError):
            policy_enforce(change=transfer(1), facts=hundred_btc, gate="proposal")

    def test_a_refused_posting_rolls_back_and_its_evaluation_survives(self, active_policy, hundred_btc):
        active_policy(CAP_105)
        operator = make_user("otto")

        with pytest.raises(PolicyDenied), policy_gated_transaction():
            make_user("written-by-the-posting")
            policy_enforce(change=transfer(9, 6 * BTC), facts=hundred_btc, gate="posting")

        assert not type(operator).objects.filter(username="written-by-the-posting").exists()
        assert list(PolicyEvaluation.objects.values_list("gate", "outcome", "subject_id")) == [("posting", "deny", "9")]

    def test_evaluations_and_breaches_cannot_be_rewritten(self, active_policy, hundred_btc):
        active_policy(CAP_105)
        hundred_btc.book(inbound(6 * BTC, category="donation", when=at(days=2)))
        [breach] = policy_detect(change=replace(inbound(6 * BTC, when=at(days=2)), observed=True), facts=hundred_btc)
        policy_breach_resolve(breach=breach, reason="sent back", actor=make_user("otto", RESOLVE_BREACH))

        for statement in (
            "UPDATE policy_policyevaluation SET outcome = 'allow'",
            "DELETE FROM policy_policyevaluation",
            "UPDATE policy_policybreach SET resolution_reason = 'other'",
            "UPDATE policy_policybreach SET status = 'open', resolved_at = NULL, resolved_by_id = NULL",
            "DELETE FROM policy_policybreach",
        ):
            # refused by the triggers, or before them by the service role's privileges (no UPDATE/DELETE)
            with pytest.raises((IntegrityError, ProgrammingError)), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)

        assert PolicyBreach.objects.get().resolution_reason == "sent back"


class PostingsTable:
    """A minimal ledger for the race: each allowed posting inserts its amount."""

    def __init__(self, opening_sats: int) -> None:
        self.opening_sats = opening_sats

    def holdings_sats(self, *, scope: PolicyScope, at=None, height=None) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(SUM(amount_sats), 0) FROM policy_test_postings")
            return self.opening_sats + int(cursor.fetchone()[0])

    def flow_sats(self, **_: object) -> int:
        return 0

    def exempt_inflows_sats(self, **_: object) -> int:
        return 0

    def encumbered_sats(self, **_: object) -> int:
        return 0

    def wallet_balance_sats(self, **_: object) -> int:
        return 0

    def holdings_changes(self, **_: object) -> list:
        return []


@pytest.fixture
def postings_table():
    # The owner creates the scratch table and lets the service role read and append to it.
    role = service_role()
    with owner_cursor() as cursor:
        cursor.execute("CREATE TABLE policy_test_postings (id serial PRIMARY KEY, amount_sats bigint NOT NULL)")
        if role is not None:
            cursor.execute(f'GRANT SELECT, INSERT ON policy_test_postings TO "{role}"')
            cursor.execute(f'GRANT USAGE ON SEQUENCE policy_test_postings_id_seq TO "{role}"')
    yield PostingsTable(opening_sats=100 * BTC)
    with owner_cursor() as cursor:
        cursor.execute("DROP TABLE policy_test_postings")


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_postings_against_room_for_five_post_five(active_policy, postings_table):
    # given a cap leaving room for exactly 5 BTC, and 16 threads each posting 1 BTC at once
    active_policy(CAP_105)
    start = threading.Barrier(16)

    def post(number: int) -> str:
        try:
            start.wait()
            with policy_gated_transaction():
                policy_enforce(change=transfer(number), facts=postings_table, gate="posting")
                time.sleep(0.02)  # widen the window between the check and the write
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO policy_test_postings (amount_sats) VALUES (%s)", [BTC])
            return "posted"
        except PolicyDenied:
            return "denied"
        finally:
            connection.close()

    # when they all run, each in its own transaction
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, range(16)))

    # then exactly five posted, eleven were refused, and every decision was recorded
    assert results.count("posted") == 5
    assert results.count("denied") == 11
    assert postings_table.holdings_sats(scope=PolicyScope("perimeter")) == 105 * BTC
    outcomes = list(PolicyEvaluation.objects.filter(gate="posting").values_list("outcome", flat=True))
    assert sorted(outcomes) == ["allow"] * 5 + ["deny"] * 11
