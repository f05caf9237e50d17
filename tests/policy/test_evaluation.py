"""Combining rule lines into a decision: outcomes, quorum tiers, versions by effective time."""

from __future__ import annotations

from dataclasses import replace

from policy.evaluation import evaluate_change
from policy.types import ApprovalFact, PolicyScope
from tests.policy.builders import BTC, T0, approved_by, at, inbound, outbound, version
from tests.policy.memory_facts import MemoryFacts

QUORUM = {
    "type": "approval_quorum",
    "params": {
        "min_approvals": 2,
        "role": "approver",
        "tiers": [
            {"min_sats": 10 * BTC, "min_approvals": 3},
            {"min_sats": 100 * BTC, "min_approvals": 2, "role": "minister"},
        ],
    },
}


def decide(change, *rule_sets, facts=None):
    versions = [version(rules, policy_id=index + 1) for index, rules in enumerate(rule_sets)]
    return evaluate_change(change=change, facts=facts or MemoryFacts(), versions=versions)


class TestQuorum:
    def test_without_a_quorum_rule_two_approvers_are_needed(self):
        waiting = decide(approved_by(outbound(BTC), 2))
        done = decide(approved_by(outbound(BTC), 2, 3))

        assert (waiting.outcome, waiting.required_approvals, waiting.required_role) == ("needs_approval", 2, "approver")
        assert waiting.lines[-1].rule_index == -1
        assert waiting.lines[-1].reason.endswith(": 1 of 2 given.")
        assert (done.outcome, done.approvals_counted) == ("allow", 2)

    def test_tiers_pick_the_highest_threshold_not_above_the_amount(self):
        small = decide(outbound(10 * BTC - 1), [QUORUM])
        middle = decide(outbound(10 * BTC), [QUORUM])
        large = decide(outbound(100 * BTC), [QUORUM])

        assert (small.required_approvals, small.required_role) == (2, "approver")
        assert (middle.required_approvals, middle.required_role) == (3, "approver")
        assert (large.required_approvals, large.required_role) == (2, "minister")
        assert middle.lines[0].limit_sats == 10 * BTC

    def test_the_proposer_and_repeat_or_wrong_role_approvals_do_not_count(self):
        change = approved_by(outbound(10 * BTC, proposer_id=1), 1, 2, 2, role="approver")
        change = approved_by(change, 3, role="auditor")

        decision = decide(change, [QUORUM])

        assert (decision.outcome, decision.approvals_counted, decision.required_approvals) == ("needs_approval", 1, 3)

    def test_the_strictest_quorum_in_force_wins(self):
        strict = {"type": "approval_quorum", "params": {"min_approvals": 4}}

        decision = decide(approved_by(outbound(BTC), 2, 3, 4), [QUORUM], [strict])

        assert (decision.outcome, decision.required_approvals) == ("needs_approval", 4)

    def test_a_cool_off_adds_extra_approvals_to_the_quorum(self):
        allowlist = {
            "type": "destination_allowlist",
            "params": {
                "addresses": ["bc1qvictimsfund"],
                "cool_off_seconds": 7 * 86_400,
                "on_violation": "needs_approval",
            },
        }
        change = outbound(BTC, when=at(days=1))

        two = decide(approved_by(change, 2, 3), [allowlist])
        three = decide(approved_by(change, 2, 3, 4), [allowlist])

        assert (two.outcome, two.required_approvals) == ("needs_approval", 3)
        assert three.outcome == "allow"
        assert [line.verdict for line in three.lines] == ["allow", "allow"]


def test_deny_beats_needs_approval_and_every_rule_gives_a_line():
    rules = [
        {"type": "holdings_cap", "params": {"max_sats": 0}},
        {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "inbound"}},
        QUORUM,
    ]

    decision = decide(inbound(BTC), rules)

    assert decision.outcome == "deny"
    assert [(line.rule_type, line.rule_index, line.verdict) for line in decision.lines] == [
        ("holdings_cap", 0, "deny"),
        ("transfer_limit", 1, "allow"),
        ("approval_quorum", 2, "needs_approval"),
    ]
    assert decision.denials == (decision.lines[0],)
    assert decision.versions == (101,)


def test_observed_movements_meet_only_the_continuous_rules_and_no_quorum():
    facts = MemoryFacts()
    facts.book(inbound(2 * BTC, category="donation"))
    rules = [
        {"type": "transfer_limit", "params": {"max_sats": 1, "direction": "inbound"}},
        {"type": "holdings_cap", "params": {"max_sats": BTC}},
        QUORUM,
    ]

    decision = decide(replace(inbound(2 * BTC, category="donation"), observed=True), rules, facts=facts)

    assert [line.rule_type for line in decision.lines] == ["holdings_cap"]
    assert (decision.outcome, decision.required_approvals) == ("deny", 0)


def test_approval_facts_carry_their_roles():
    change = replace(
        outbound(BTC),
        approvals=(
            ApprovalFact(2, frozenset({"approver", "operator"}), T0),
            ApprovalFact(3, frozenset({"approver"}), T0),
        ),
    )

    assert decide(change).outcome == "allow"


def test_a_version_whose_scope_the_change_does_not_touch_does_not_judge_it():
    facts = MemoryFacts()
    facts.book(inbound(5 * BTC))
    rules = [
        {"type": "holdings_cap", "params": {"max_sats": BTC}},
        {"type": "approval_quorum", "params": {"min_approvals": 5}},
    ]
    other_wallet = version(rules, scope=PolicyScope("wallet", 99))

    decision = evaluate_change(change=approved_by(inbound(BTC), 2, 3), facts=facts, versions=[other_wallet])

    assert decision.outcome == "allow"
    assert decision.required_approvals == 2
    assert decision.lines[0].reason == "Does not apply: the change does not touch wallet:99."
