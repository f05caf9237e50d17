"""The reserves the engine was built for, at the policy level (facts in memory, policies and
decisions in the database): El Salvador's ceiling on accumulation and the US no-sale rule."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import transaction

from policy.errors import PolicyDenied
from policy.models import PolicyBreach
from policy.services import policy_detect, policy_enforce, policy_quorum
from policy.types import PolicyScope
from tests.policy.builders import BTC, COLD, HOT, T0, approved_by, at, inbound, internal, outbound
from tests.policy.memory_facts import MemoryFacts

FEE_SATS = 20_000  # 0.0002 BTC


@pytest.mark.django_db
def test_el_salvador_no_net_accumulation(active_policy):
    # given 6,000 BTC held when the IMF ceiling took effect
    version = active_policy(
        [{"type": "no_net_accumulation", "params": {"baseline_sats": 6_000 * BTC}}], name="IMF programme"
    )
    facts = MemoryFacts()
    facts.book(inbound(6_000 * BTC, when=T0 - (at(days=1) - T0), block_height=870_000))

    # when 500 BTC are consolidated from the hot to the cold wallet with a 0.0002 BTC fee
    consolidation = approved_by(internal(500 * BTC, fee_sats=FEE_SATS, when=at(days=1), block_height=870_100), 2, 3)
    with transaction.atomic():
        decision = policy_enforce(change=consolidation, facts=facts, gate="posting")
    facts.book(consolidation)

    # then it passes as neutral and holdings drop by the fee only
    assert decision.outcome == "allow"
    assert decision.lines[0].measured_sats == 6_000 * BTC - FEE_SATS
    assert "neutral movement" in decision.lines[0].reason
    assert facts.holdings_sats(scope=PolicyScope("perimeter")) == 6_000 * BTC - FEE_SATS

    # when a purchase of 1 BTC is posted, fully approved
    purchase = approved_by(inbound(BTC, category="purchase", when=at(days=2)), 2, 3)
    with pytest.raises(PolicyDenied) as denied, transaction.atomic():
        policy_enforce(change=purchase, facts=facts, gate="posting")

    # then it is denied: it would put holdings above the 6,000 BTC ceiling
    line = denied.value.decision.lines[0]
    assert (line.verdict, line.measured_sats, line.limit_sats) == ("deny", 6_001 * BTC - FEE_SATS, 6_000 * BTC)
    assert line.reason.endswith("would exceed the ceiling by 0.99980000 BTC.")

    # when a forfeiture of 10 BTC arrives
    forfeiture = approved_by(
        inbound(10 * BTC, category="forfeiture", when=at(days=3), block_height=870_300, provenance_reference="FO-1"),
        2,
        3,
    )
    with transaction.atomic():
        decision = policy_enforce(change=forfeiture, facts=facts, gate="posting")
    facts.book(forfeiture)

    # then it is allowed and the ceiling rises by 10 BTC
    assert decision.outcome == "allow"
    assert decision.lines[0].limit_sats == 6_010 * BTC

    # when a donation of 0.5 BTC nobody proposed is observed on chain and booked
    donation = inbound(BTC // 2, category="donation", when=at(days=4), block_height=870_400)
    facts.book(donation)
    breaches = policy_detect(
        change=replace(donation, observed=True, subject_type="discrepancy", subject_id="15"), facts=facts
    )

    # then a breach of the ceiling is open, measured at that block
    assert [(breach.rule_type, breach.version_id, breach.status) for breach in breaches] == [
        ("no_net_accumulation", version.pk, "open")
    ]
    breach = breaches[0]
    assert (breach.measured_sats, breach.limit_sats) == (6_010 * BTC + BTC // 2 - FEE_SATS, 6_010 * BTC)
    assert breach.block_height == 870_400
    assert PolicyBreach.objects.filter(status="open").count() == 1


@pytest.fixture
def us_reserve(active_policy):
    return active_policy(
        [
            {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}},
            {
                "type": "approval_quorum",
                "params": {"min_approvals": 2, "tiers": [{"min_sats": 1_000 * BTC, "min_approvals": 3}]},
            },
        ],
        name="Strategic Bitcoin Reserve",
        scope=PolicyScope("wallet", COLD),
    )


@pytest.fixture
def us_facts() -> MemoryFacts:
    facts = MemoryFacts()
    facts.book(inbound(198_000 * BTC, category="forfeiture", when=T0))
    return facts


@pytest.mark.django_db
def test_us_no_sale_whatever_the_approvals(us_reserve, us_facts):
    # given a sale from the no-disposal wallet approved by five people
    sale = approved_by(
        outbound(100 * BTC, category="sale", when=at(days=1), provenance_reference="exchange contract 12"),
        2,
        3,
        4,
        5,
        6,
    )

    # when it is proposed and then posted
    with pytest.raises(PolicyDenied) as refused, transaction.atomic():
        policy_enforce(change=sale, facts=us_facts, gate="proposal")
    with pytest.raises(PolicyDenied) as denied, transaction.atomic():
        policy_enforce(change=sale, facts=us_facts, gate="posting")

    # then both gates refuse it, and the quorum being met changes nothing
    proposal = refused.value.decision
    assert proposal.outcome == denied.value.decision.outcome == "deny"
    assert proposal.approvals_counted == 5
    assert "A sale may not leave the perimeter" in proposal.lines[0].reason


@pytest.mark.django_db
def test_us_return_to_victims_with_a_court_order_needs_its_quorum(us_reserve, us_facts):
    # given a return to victims citing its court order
    change = outbound(50 * BTC, when=at(days=1), provenance_reference="Order 1:23-cr-00456 (S.D.N.Y.)")

    # when it gathers approvals one by one (the proposer's own does not count)
    with transaction.atomic():
        decisions = [
            policy_enforce(change=approved_by(change, *approvers), facts=us_facts, gate="approval")
            for approvers in ((), (1,), (1, 2), (1, 2, 3))
        ]

    # then it is allowed once two approvers other than the proposer agree
    assert [decision.outcome for decision in decisions] == ["needs_approval"] * 3 + ["allow"]
    assert [decision.approvals_counted for decision in decisions] == [0, 0, 1, 2]
    assert decisions[-1].lines[0].reason == "A return to victims is an allowed reason to leave the perimeter."


@pytest.mark.django_db
def test_us_large_returns_need_the_higher_tier_and_a_reference(us_reserve, us_facts):
    large = outbound(1_500 * BTC, when=at(days=1), provenance_reference="Order 1:23-cr-00456")
    unreferenced = approved_by(outbound(50 * BTC, when=at(days=1)), 2, 3)

    assert policy_quorum(change=large, facts=us_facts) == (3, "approver")
    with pytest.raises(PolicyDenied) as refused, transaction.atomic():
        policy_enforce(change=unreferenced, facts=us_facts, gate="approval")
    decision = refused.value.decision
    assert decision.outcome == "deny"
    assert "must cite its legal reference" in decision.lines[0].reason


@pytest.mark.django_db
def test_moving_between_us_custody_wallets_is_not_a_disposal(us_reserve, us_facts):
    move = approved_by(
        internal(10 * BTC, fee_sats=FEE_SATS, source_wallet_id=COLD, destination_wallet_id=HOT, when=at(days=1)), 2, 3
    )

    with transaction.atomic():
        decision = policy_enforce(change=move, facts=us_facts, gate="approval")

    assert decision.outcome == "allow"
