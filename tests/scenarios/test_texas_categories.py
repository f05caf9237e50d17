"""Texas SB 21's reserve also grows by its own investment earnings, a source none of the built-in terms
names: its policy administrators add the term with its legal reference, approved like a policy
version, and then limit it. Until the second approval no policy can name it; once in force, a limit
on it holds each transfer and any 90 days to the satoshi, and leaves other categories alone. On
PostgreSQL, through the category and policy services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.errors import ValidationFailed
from policy.evaluation import evaluate_change
from policy.models import PolicyVersion
from policy.selectors import category_codes, version_rules
from policy.services import category_approve, category_propose, policy_create_draft
from policy.types import PolicyScope, ProposedChange
from tests.policy.builders import BTC, inbound
from tests.policy.memory_facts import MemoryFacts

pytestmark = pytest.mark.django_db

EARNINGS = "investment_earnings"
PER_TRANSFER, PER_90_DAYS = 10 * BTC, 25 * BTC
RULES = [
    {"type": "transfer_limit", "params": {"max_sats": PER_TRANSFER, "direction": "inbound", "categories": [EARNINGS]}},
    {
        "type": "velocity_limit",
        "params": {
            "max_sats": PER_90_DAYS,
            "window_seconds": 90 * 86_400,
            "direction": "inbound",
            "categories": [EARNINGS],
        },
    },
]
START = datetime(2027, 1, 1, tzinfo=UTC)
JULY = datetime(2027, 7, 1, tzinfo=UTC)


def _draft(author: Any) -> PolicyVersion:
    return policy_create_draft(
        name="Texas reserve earnings", scope=PolicyScope("perimeter"), rules=RULES, effective_from=START, author=author
    )


def _in_force(policy_admins: list[Any]) -> PolicyVersion:
    author, first, second = policy_admins
    term = category_propose(
        code=EARNINGS,
        kind="inflow",
        legal_reference="Texas SB 21 (2025): investment earnings of the Texas Strategic Bitcoin Reserve",
        description="Bitcoin earned by the reserve's own holdings, credited back to it.",
        author=author,
    )
    category_approve(category=term, approver=first)
    category_approve(category=term, approver=second)
    return _draft(author)


def _judge(version: PolicyVersion, change: ProposedChange, facts: MemoryFacts) -> dict[str, tuple[str, int | None]]:
    decision = evaluate_change(change=change, facts=facts, versions=[version_rules(version)])
    return {line.rule_type: (line.verdict, line.measured_sats) for line in decision.lines}


def test_a_term_with_one_approval_cannot_be_named_and_with_two_it_can(policy_admins: list[Any]) -> None:
    author, first, second = policy_admins
    term = category_propose(
        code=EARNINGS, kind="inflow", legal_reference="Texas SB 21 (2025)", description="Earnings.", author=author
    )
    category_approve(category=term, approver=first)

    with pytest.raises(ValidationFailed) as refused:
        _draft(author)
    assert set(refused.value.fields) == {"rules[0].params.categories", "rules[1].params.categories"}
    assert not PolicyVersion.objects.exists()

    category_approve(category=term, approver=second)
    assert EARNINGS in category_codes()
    assert _draft(author).rules[0]["params"]["categories"] == [EARNINGS]


def test_earnings_are_limited_per_transfer_to_the_satoshi_and_a_purchase_is_not(policy_admins: list[Any]) -> None:
    version = _in_force(policy_admins)
    facts = MemoryFacts()

    exactly = _judge(version, inbound(PER_TRANSFER, category=EARNINGS, when=JULY), facts)
    over = _judge(version, inbound(PER_TRANSFER + 1, category=EARNINGS, when=JULY), facts)
    purchase = _judge(version, inbound(50 * BTC, category="purchase", when=JULY), facts)

    assert exactly["transfer_limit"] == ("allow", PER_TRANSFER)
    assert over["transfer_limit"] == ("deny", PER_TRANSFER + 1)
    assert purchase["transfer_limit"][0] == purchase["velocity_limit"][0] == "allow"


@pytest.mark.parametrize(
    ("earned_before", "verdict"),
    [(timedelta(days=90), "deny"), (timedelta(days=90, microseconds=1), "allow")],
)
def test_earnings_in_any_90_days_count_from_exactly_90_days_back(
    policy_admins: list[Any], earned_before: timedelta, verdict: str
) -> None:
    # given: 10 BTC earned then, 10 BTC earned last week, and purchases that use none of the window
    version = _in_force(policy_admins)
    facts = MemoryFacts()
    facts.book(inbound(PER_TRANSFER, category=EARNINGS, when=JULY - earned_before))
    facts.book(inbound(PER_TRANSFER, category=EARNINGS, when=JULY - timedelta(days=7)))
    facts.book(inbound(100 * BTC, category="purchase", when=JULY - timedelta(days=1)))

    # when: 5 BTC more are earned now, and one satoshi on top
    exactly = _judge(version, inbound(5 * BTC, category=EARNINGS, when=JULY), facts)
    over = _judge(version, inbound(5 * BTC + 1, category=EARNINGS, when=JULY), facts)

    # then: with the old earnings in the window, 25 BTC fills it exactly; a microsecond older, they are out
    counted = PER_90_DAYS if verdict == "deny" else PER_90_DAYS - PER_TRANSFER
    assert exactly["velocity_limit"] == ("allow", counted)
    assert over["velocity_limit"] == (verdict, counted + 1)
