"""What every jurisdiction's scenario shares: a policy judged by the pure engine over facts in
memory (tests/policy/memory_facts.py, held to the real facts by the facts contract test), so each
commitment is tried at its boundary in microseconds. Proposed changes are judged as a live gate
would, observed ones as detective mode does."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from policy.evaluation import evaluate_change
from policy.rules.base import RuleContext
from policy.rules.obligations import ReportingObligation, Standing
from policy.types import Decision, PolicyScope, ProposedChange, RuleLine
from tests.policy.builders import PERIMETER, internal, version
from tests.policy.memory_facts import MemoryFacts


def judge(rules: list[dict[str, Any]], change: ProposedChange, facts: MemoryFacts | None = None) -> Decision:
    return evaluate_change(change=change, facts=facts or MemoryFacts(), versions=[version(rules)])


def detect(rules: list[dict[str, Any]], change: ProposedChange, facts: MemoryFacts | None = None) -> Decision:
    """Detective mode on a movement nobody proposed: booked first, then judged."""
    facts = facts or MemoryFacts()
    observed = replace(change, observed=True, proposer_id=None, subject_type="discrepancy", subject_id="1")
    facts.book(observed)
    return evaluate_change(change=observed, facts=facts, versions=[version(rules)])


def line(decision: Decision, rule_type: str) -> RuleLine:
    return next(line for line in decision.lines if line.rule_type == rule_type)


def standing(
    params: dict[str, Any], at: datetime, facts: MemoryFacts, *, scope: PolicyScope = PERIMETER
) -> tuple[RuleLine, Standing]:
    """A reporting obligation's standing at `at` for `scope`, as the compliance report shows it each day."""
    rules = version([{"type": "reporting_obligation", "params": params}], scope=scope)
    (rule,) = rules.rules
    assert isinstance(rule, ReportingObligation)
    snapshot = replace(internal(0, fee_sats=0, when=at), observed=True)
    return rule.standing(RuleContext(change=snapshot, facts=facts, version=rules, rule_index=0))
