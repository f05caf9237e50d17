"""Bhutan's pledge of reserve coins, and no bitcoin-linked debt: coins pledged as collateral
count against the encumbrance cap with approved outflows not yet mined; while the encumbrance
is over the cap nothing leaves; a bitcoin-linked liability outstanding is a breach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policy.rules import parse_rules
from policy.types import PolicyScope
from tests.policy.builders import BTC, COLD, T0, TREASURY, inbound, outbound
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import detect, judge, line

CAP = [{"type": "encumbrance_cap", "params": {"max_sats": 10_000 * BTC}}]
NO_DEBT = [{"type": "no_bitcoin_liabilities", "params": {}}]
APPROVED, RELEASED = datetime(2026, 6, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
HELD = frozenset({PolicyScope("perimeter"), PolicyScope("agency", TREASURY), PolicyScope("wallet", COLD)})


def _pledged(sats: int, kind: str = "collateral") -> MemoryFacts:
    facts = MemoryFacts()
    facts.book(inbound(12_000 * BTC))
    facts.pledges.append((HELD, kind, sats, None, None))
    return facts


def test_a_pledge_at_the_cap_lets_a_sale_through_and_one_sat_over_holds_it_back() -> None:
    at_cap = judge(CAP, outbound(BTC), _pledged(10_000 * BTC))
    over = judge(CAP, outbound(BTC), _pledged(10_000 * BTC + 1))

    assert line(at_cap, "encumbrance_cap").verdict == "allow"
    assert (line(over, "encumbrance_cap").verdict, over.outcome) == ("deny", "deny")
    assert "Encumbered 10,000.00000001 BTC" in line(over, "encumbrance_cap").reason


def test_pledged_beyond_the_holdings_is_a_breach_in_detective_mode() -> None:
    facts = _pledged(10_000 * BTC)
    within = detect(CAP, outbound(2_000 * BTC - 2_000, fee_sats=2_000), facts)
    beyond = detect(CAP, outbound(1, fee_sats=0), facts)

    assert line(within, "encumbrance_cap").verdict == "allow"
    assert line(beyond, "encumbrance_cap").verdict == "deny"


def test_a_liability_outstanding_is_a_breach_and_a_pledge_is_not_one() -> None:
    owed = detect(NO_DEBT, inbound(BTC), _pledged(BTC, kind="liability"))
    reserve_wide = MemoryFacts()
    reserve_wide.pledges.append((frozenset(), "liability", 1, None, None))
    pledged = detect(NO_DEBT, inbound(BTC), _pledged(BTC))
    proposed = judge(NO_DEBT, outbound(BTC), _pledged(BTC, kind="liability"))

    assert (line(owed, "no_bitcoin_liabilities").verdict, owed.outcome) == ("deny", "deny")
    assert line(detect(NO_DEBT, inbound(BTC), reserve_wide), "no_bitcoin_liabilities").verdict == "deny"
    assert line(pledged, "no_bitcoin_liabilities").verdict == "allow"
    # A movement of coins creates no liability: it is not held back by one outstanding.
    assert line(proposed, "no_bitcoin_liabilities").verdict == "allow"
    assert "1.00000000 BTC outstanding" in line(owed, "no_bitcoin_liabilities").reason


@pytest.mark.parametrize(
    ("seen", "verdict"),
    [
        (APPROVED - timedelta(microseconds=1), "allow"),
        (APPROVED, "deny"),
        (RELEASED - timedelta(microseconds=1), "deny"),
        (RELEASED, "allow"),
    ],
)
def test_a_liability_stands_from_its_approval_until_its_release(seen: datetime, verdict: str) -> None:
    facts = MemoryFacts()
    facts.pledges.append((HELD, "liability", BTC, APPROVED, RELEASED))
    decision = detect(NO_DEBT, inbound(BTC, when=seen), facts)
    assert line(decision, "no_bitcoin_liabilities").verdict == verdict


@pytest.mark.parametrize(("seen", "verdict"), [(APPROVED - timedelta(microseconds=1), "allow"), (APPROVED, "deny")])
def test_a_pledge_weighs_on_the_cap_from_its_approval(seen: datetime, verdict: str) -> None:
    facts = MemoryFacts()
    facts.book(inbound(12_000 * BTC, when=APPROVED - timedelta(days=30)))
    facts.pledges.append((HELD, "collateral", 10_000 * BTC + 1, APPROVED, None))
    assert line(detect(CAP, outbound(BTC, when=seen), facts), "encumbrance_cap").verdict == verdict


def test_the_rules_read_as_the_commitment() -> None:
    cap, no_debt = parse_rules(CAP + NO_DEBT, effective_from=T0)

    assert cap.describe().startswith("Encumbrance cap: at most 10,000.00000000 BTC may be pledged or encumbered")
    assert no_debt.describe() == (
        "No bitcoin-linked liabilities: the scope may owe nothing denominated in or linked to bitcoin; "
        "approving such a liability is refused, and one outstanding is a breach."
    )
