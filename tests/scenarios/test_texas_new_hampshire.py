"""Texas SB 21 and New Hampshire HB 302: the state may hold bitcoin worth at most 5% of the
total public funds (a fiat total the policy names, recorded with its date by a policy
administrator), valued at the price quote in force. Without a fresh quote, or without the
total, the rule cannot judge and sends the change for approval: never a silent pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from policy.types import FiatAmount
from tests.policy.builders import BTC, inbound, outbound
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import judge, line

FIVE_PERCENT = [
    {"type": "fiat_holdings_cap", "params": {"currency": "USD", "fiat_total": "public_funds", "percent": "5"}}
]
AT_MOST_50M = [{"type": "fiat_holdings_cap", "params": {"currency": "USD", "max_fiat": "50000000.00"}}]
MARCH = datetime(2027, 3, 1, 12, tzinfo=UTC)


def _state(*, quoted_at: datetime = MARCH - timedelta(hours=1)) -> MemoryFacts:
    """900 BTC held; 1 BTC = 100,000 USD (1 sat = 0.001 USD); public funds 2 billion USD, so 5% is
    100 million USD: 1,000 BTC."""
    facts = MemoryFacts()
    facts.book(inbound(900 * BTC, when=datetime(2027, 1, 5, tzinfo=UTC)))
    facts.quotes.append((quoted_at, "USD", Decimal("100000")))
    facts.fiat_totals.append(
        ("public_funds", FiatAmount(Decimal("2000000000.00"), "USD", datetime(2026, 12, 31, tzinfo=UTC)))
    )
    return facts


def test_five_percent_of_public_funds_is_held_to_the_cent() -> None:
    exactly = judge(FIVE_PERCENT, inbound(100 * BTC, when=MARCH), _state())
    # Five sats are 0.005 USD, rounded half-even to nothing; ten sats are a cent over.
    rounding = judge(FIVE_PERCENT, inbound(100 * BTC + 5, when=MARCH), _state())
    over = judge(FIVE_PERCENT, inbound(100 * BTC + 10, when=MARCH), _state())

    assert line(exactly, "fiat_holdings_cap").verdict == "allow"
    assert line(rounding, "fiat_holdings_cap").verdict == "allow"
    assert (line(over, "fiat_holdings_cap").verdict, over.outcome) == ("deny", "deny")
    assert "100,000,000.01 USD" in line(over, "fiat_holdings_cap").reason
    assert "cap of 100,000,000.00 USD" in line(over, "fiat_holdings_cap").reason


def test_a_cap_stated_in_dollars_is_held_to_the_cent_at_the_quote_in_force() -> None:
    at_most_100m = [{"type": "fiat_holdings_cap", "params": {"currency": "USD", "max_fiat": "100000000.00"}}]
    exactly = judge(at_most_100m, inbound(100 * BTC, when=MARCH), _state())
    over = judge(at_most_100m, inbound(100 * BTC + 10, when=MARCH), _state())

    assert line(exactly, "fiat_holdings_cap").verdict == "allow"
    assert (line(over, "fiat_holdings_cap").verdict, over.outcome) == ("deny", "deny")
    assert "100,000,000.01 USD" in line(over, "fiat_holdings_cap").reason


def test_a_higher_total_recorded_later_raises_the_cap_from_its_date() -> None:
    facts = _state()
    facts.fiat_totals.append(("public_funds", FiatAmount(Decimal("2200000000.00"), "USD", MARCH)))
    before = judge(FIVE_PERCENT, inbound(110 * BTC, when=MARCH - timedelta(seconds=1)), facts)
    after = judge(FIVE_PERCENT, inbound(110 * BTC, when=MARCH), facts)

    assert (line(before, "fiat_holdings_cap").verdict, line(after, "fiat_holdings_cap").verdict) == ("deny", "allow")


def test_a_stale_or_missing_quote_sends_the_change_for_approval() -> None:
    fresh = judge(AT_MOST_50M, inbound(BTC, when=MARCH), _state(quoted_at=MARCH - timedelta(days=1)))
    stale = judge(AT_MOST_50M, inbound(BTC, when=MARCH), _state(quoted_at=MARCH - timedelta(days=1, seconds=1)))
    missing = judge(AT_MOST_50M, inbound(BTC, when=MARCH), _state(quoted_at=MARCH + timedelta(seconds=1)))

    # 901 BTC at 100,000 USD is 90.1 million USD: over the 50 million cap when the quote is fresh.
    assert line(fresh, "fiat_holdings_cap").verdict == "deny"
    assert line(stale, "fiat_holdings_cap").verdict == "needs_approval"
    assert "stale" in line(stale, "fiat_holdings_cap").reason
    assert line(missing, "fiat_holdings_cap").verdict == "needs_approval"
    assert "No USD price quote in force" in line(missing, "fiat_holdings_cap").reason


def test_without_the_named_total_the_share_cannot_be_judged() -> None:
    facts = _state()
    facts.fiat_totals.clear()
    decision = judge(FIVE_PERCENT, inbound(BTC, when=MARCH), facts)

    assert line(decision, "fiat_holdings_cap").verdict == "needs_approval"
    assert "No USD total 'public_funds'" in line(decision, "fiat_holdings_cap").reason


def test_over_the_cap_a_sale_is_not_refused_by_it() -> None:
    facts = _state()
    facts.quotes.append((MARCH - timedelta(minutes=1), "USD", Decimal("1000000")))  # the price rose tenfold
    sale = judge(FIVE_PERCENT, outbound(BTC, category="sale", when=MARCH), facts)
    inflow = judge(FIVE_PERCENT, inbound(1, when=MARCH), facts)

    assert line(sale, "fiat_holdings_cap").reason.startswith("Does not apply")
    assert line(inflow, "fiat_holdings_cap").verdict == "deny"
