"""The BITCOIN Act as proposed: the Treasury buys at most 200,000 BTC a year (a calendar-year
allowance), forfeited bitcoin comes in without using it up, and nothing is sold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.policy.builders import BTC, inbound, outbound
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import judge, line

ALLOWANCE = 200_000 * BTC
RULES = [
    {
        "type": "velocity_limit",
        "params": {"max_sats": ALLOWANCE, "calendar": "year", "direction": "inbound", "categories": ["purchase"]},
    },
    {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}},
]
JUNE = datetime(2027, 6, 1, tzinfo=UTC)


def _bought_this_year(facts: MemoryFacts) -> None:
    facts.book(inbound(150_000 * BTC, category="purchase", when=datetime(2027, 1, 1, tzinfo=UTC)))
    facts.book(inbound(40_000 * BTC, category="forfeiture", when=datetime(2027, 3, 1, tzinfo=UTC)))
    # Last year's purchases belong to last year's allowance.
    facts.book(inbound(199_000 * BTC, category="purchase", when=datetime(2026, 12, 31, 23, 59, tzinfo=UTC)))


def test_the_yearly_purchase_allowance_is_used_to_the_satoshi_and_not_beyond() -> None:
    facts = MemoryFacts()
    _bought_this_year(facts)
    exactly = judge(RULES, inbound(50_000 * BTC, category="purchase", when=JUNE), facts)
    over = judge(RULES, inbound(50_000 * BTC + 1, category="purchase", when=JUNE), facts)
    assert (line(exactly, "velocity_limit").verdict, line(exactly, "velocity_limit").measured_sats) == (
        "allow",
        ALLOWANCE,
    )
    assert line(over, "velocity_limit").verdict == "deny"
    assert "each UTC calendar year" in line(over, "velocity_limit").reason


def test_forfeitures_do_not_use_the_allowance_and_it_renews_on_the_first_of_january() -> None:
    facts = MemoryFacts()
    _bought_this_year(facts)
    forfeiture = judge(RULES, inbound(500_000 * BTC, category="forfeiture", when=JUNE), facts)
    assert line(forfeiture, "velocity_limit").reason.startswith("Does not apply")
    new_year = judge(RULES, inbound(ALLOWANCE, category="purchase", when=datetime(2028, 1, 1, tzinfo=UTC)), facts)
    assert line(new_year, "velocity_limit").verdict == "allow"


def test_no_sale_ever() -> None:
    sale = judge(RULES, outbound(BTC, category="sale"))
    victims = judge(RULES, outbound(BTC, category="return_to_victims", provenance_reference="Order 21-cr-1"))
    assert line(sale, "no_disposal").verdict == "deny"
    assert line(victims, "no_disposal").verdict == "allow"


@pytest.mark.parametrize(
    ("period", "bought_at", "renews_at"),
    [
        ("quarter", datetime(2027, 5, 20, tzinfo=UTC), datetime(2027, 7, 1, tzinfo=UTC)),
        ("quarter", datetime(2027, 10, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)),
        ("month", datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)),
    ],
)
def test_a_quarterly_or_monthly_allowance_renews_at_midnight_utc_on_the_first_day(
    period: str, bought_at: datetime, renews_at: datetime
) -> None:
    rules = [
        {
            "type": "velocity_limit",
            "params": {"max_sats": BTC, "calendar": period, "direction": "inbound", "categories": ["purchase"]},
        }
    ]
    facts = MemoryFacts()
    facts.book(inbound(BTC, category="purchase", when=bought_at))
    last_moment = judge(rules, inbound(1, category="purchase", when=renews_at - timedelta(microseconds=1)), facts)
    renewed = judge(rules, inbound(BTC, category="purchase", when=renews_at), facts)
    assert (line(last_moment, "velocity_limit").verdict, line(last_moment, "velocity_limit").measured_sats) == (
        "deny",
        BTC + 1,
    )
    assert (line(renewed, "velocity_limit").verdict, line(renewed, "velocity_limit").measured_sats) == ("allow", BTC)
