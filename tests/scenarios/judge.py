"""What every jurisdiction's scenario shares: a policy judged by the pure engine over facts in
memory (tests/policy/memory_facts.py, held to the real facts by the facts contract test), so each
commitment is tried at its boundary in microseconds. Proposed changes are judged as a live gate
would, observed ones as detective mode does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from policy.evaluation import evaluate_change
from policy.types import Decision, ProposedChange, RuleLine
from tests.policy.builders import version
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
