"""Minimum holding periods, at the boundary: the BITCOIN Act as proposed holds every coin 20 years
(a lot exactly 20 years old may leave, one a day younger may not, a court-ordered disposal may at any
age); Pakistan's reserve (numbers of our own) holds mined coins 10 years. Judged on the lots the
outflow takes: the oldest first, or the ones it names; seen on chain, on the lots it took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.policy.builders import BTC, inbound, outbound
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import detect, judge, line

BITCOIN_ACT = [
    {"type": "minimum_holding", "params": {"years": 20, "exempt_reasons": ["court_order_disposal"]}},
]
PAKISTAN = [{"type": "minimum_holding", "params": {"years": 10}}]
BOUGHT = datetime(2027, 2, 1, tzinfo=UTC)
TWENTY_YEARS_ON = datetime(2047, 2, 1, tzinfo=UTC)


def _held(*lots: tuple[datetime, int, str]) -> MemoryFacts:
    facts = MemoryFacts()
    for when, sats, category in lots:
        facts.book(inbound(sats, category=category, when=when, provenance_reference=f"Ref {when:%Y}"))
    return facts


def _verdict(rules: list[dict[str, Any]], facts: MemoryFacts, **change: Any) -> str:
    fields: dict[str, Any] = {"category": "return_to_victims", "fee_sats": 0} | change
    return line(judge(rules, outbound(BTC, **fields), facts), "minimum_holding").verdict


@pytest.mark.parametrize(
    ("when", "verdict"),
    [
        (TWENTY_YEARS_ON, "allow"),
        (TWENTY_YEARS_ON - timedelta(days=1), "deny"),
        (TWENTY_YEARS_ON - timedelta(microseconds=1), "deny"),
    ],
)
def test_bitcoin_act_a_lot_leaves_at_twenty_years_to_the_day(when: datetime, verdict: str) -> None:
    facts = _held((BOUGHT, BTC, "purchase"))
    assert _verdict(BITCOIN_ACT, facts, when=when) == verdict


def test_bitcoin_act_a_court_ordered_disposal_is_exempt() -> None:
    facts = _held((BOUGHT, BTC, "purchase"))
    early = TWENTY_YEARS_ON - timedelta(days=3_000)
    assert _verdict(BITCOIN_ACT, facts, when=early, category="court_order_disposal") == "allow"
    assert _verdict(BITCOIN_ACT, facts, when=early, category="return_to_victims") == "deny"


def test_the_oldest_lot_goes_first_unless_the_outflow_names_another() -> None:
    facts = _held((BOUGHT, BTC, "purchase"), (BOUGHT + timedelta(days=400), BTC, "purchase"))
    (old, young) = facts.lots
    assert _verdict(BITCOIN_ACT, facts, when=TWENTY_YEARS_ON) == "allow"
    assert _verdict(BITCOIN_ACT, facts, when=TWENTY_YEARS_ON, lot_ids=(young.lot_id,)) == "deny"
    assert _verdict(BITCOIN_ACT, facts, when=TWENTY_YEARS_ON, lot_ids=(old.lot_id,)) == "allow"
    # one sat more than the old lot holds reaches into the young one
    over = judge(BITCOIN_ACT, outbound(BTC + 1, fee_sats=0, when=TWENTY_YEARS_ON), facts)
    assert line(over, "minimum_holding").verdict == "deny"
    assert line(over, "minimum_holding").measured_sats == 1


def test_pakistan_mined_coins_held_ten_years_and_an_outflow_seen_on_chain_is_judged_on_what_it_took() -> None:
    mined = datetime(2026, 3, 1, tzinfo=UTC)
    facts = _held((mined, 5 * BTC, "mining_reward"))
    assert _verdict(PAKISTAN, facts, when=datetime(2036, 3, 1, tzinfo=UTC)) == "allow"
    assert _verdict(PAKISTAN, facts, when=datetime(2036, 2, 29, tzinfo=UTC)) == "deny"

    seen = detect(PAKISTAN, outbound(BTC, fee_sats=0, category="other", when=datetime(2030, 1, 1, tzinfo=UTC)), facts)
    assert [denial.rule_type for denial in seen.denials] == ["minimum_holding"]


def test_a_leap_day_lot_comes_of_age_on_the_28th_of_february() -> None:
    facts = _held((datetime(2028, 2, 29, tzinfo=UTC), BTC, "purchase"))
    assert _verdict(PAKISTAN, facts, when=datetime(2038, 2, 28, tzinfo=UTC)) == "allow"
    assert _verdict(PAKISTAN, facts, when=datetime(2038, 2, 27, tzinfo=UTC)) == "deny"
