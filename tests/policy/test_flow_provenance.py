"""The category limits (`transfer_limit`, `velocity_limit`) count coins entering the scope from one
of our wallets by the lots they move, split by amount; everything else by its own category."""

from __future__ import annotations

from typing import Any

from policy.evaluation import evaluate_change
from policy.types import ProposedChange, RuleLine
from tests.policy.builders import BTC, COLD, T0, TREASURY, at, inbound, internal, outbound, version
from tests.policy.memory_facts import MemoryFacts

MARSHALS, MARSHALS_AGENCY = 7, 70
FORFEITED, BOUGHT = 3 * BTC // 10, 2 * BTC // 10
FEE_SATS = 1_000


def purchase_limit(max_sats: int) -> dict[str, Any]:
    return {
        "type": "transfer_limit",
        "params": {"max_sats": max_sats, "direction": "inbound", "categories": ["purchase"]},
    }


PURCHASE_LIMIT = purchase_limit(BOUGHT)


def _judge(rule: dict[str, Any], change: ProposedChange, facts: MemoryFacts) -> RuleLine:
    return evaluate_change(change=change, facts=facts, versions=[version([rule])]).lines[0]


def _marshals_receive(facts: MemoryFacts, sats: int, category: str, day: int) -> None:
    """Coins that reach the Marshals' wallet (a government wallet outside the perimeter) from outside."""
    facts.book(
        inbound(
            sats,
            category=category,
            provenance_reference=f"Order {day}",
            when=at(days=day),
            destination_wallet_id=MARSHALS,
            destination_agency_id=MARSHALS_AGENCY,
            destination_in_perimeter=False,
        )
    )


def _handover(sats: int, *, category: str = "agency_consolidation", **extra: Any) -> ProposedChange:
    """The Marshals' wallet moves coins into the reserve's cold wallet."""
    fields: dict[str, Any] = {
        "category": category,
        "source_wallet_id": MARSHALS,
        "source_agency_id": MARSHALS_AGENCY,
        "source_in_perimeter": False,
        "when": at(days=30),
    }
    return internal(sats, fee_sats=FEE_SATS, **(fields | extra))


def _mixed() -> MemoryFacts:
    """0.3 BTC forfeited, then 0.2 BTC (and the fee) bought, in the Marshals' wallet."""
    facts = MemoryFacts()
    _marshals_receive(facts, FORFEITED, "forfeiture", 1)
    _marshals_receive(facts, BOUGHT + FEE_SATS, "purchase", 2)
    return facts


def test_a_mixed_handover_counts_only_its_purchased_part_against_a_purchase_limit() -> None:
    within = _judge(PURCHASE_LIMIT, _handover(FORFEITED + BOUGHT), _mixed())
    over = _judge(
        purchase_limit(BOUGHT - 1),
        _handover(FORFEITED + BOUGHT),
        _mixed(),
    )

    assert (within.verdict, within.measured_sats) == ("allow", BOUGHT)
    assert within.reason == (
        "Transfer of 0.20000000 BTC of purchase coins in 0.50000000 BTC against a per-transfer limit of "
        "0.20000000 BTC: within."
    )
    assert (over.verdict, over.measured_sats) == ("deny", BOUGHT)


def test_forfeited_coins_handed_over_do_not_touch_a_purchase_limit_whatever_their_tag() -> None:
    facts = MemoryFacts()
    _marshals_receive(facts, 5 * BTC, "forfeiture", 1)

    line = _judge(PURCHASE_LIMIT, _handover(4 * BTC, category="purchase"), facts)

    assert line.verdict == "allow"
    assert line.reason == "Does not apply: it moves no purchase, which alone is limited here."


def test_bought_coins_tagged_as_forfeiture_on_the_way_in_still_count_as_bought() -> None:
    # an insider routes a purchase through the Marshals' wallet and tags the handover a forfeiture
    facts = MemoryFacts()
    _marshals_receive(facts, 5 * BTC, "purchase", 1)

    line = _judge(PURCHASE_LIMIT, _handover(BOUGHT + 1, category="forfeiture"), facts)

    assert (line.verdict, line.measured_sats) == ("deny", BOUGHT + 1)


def test_what_no_lot_covers_counts_as_the_move_is_tagged() -> None:
    facts = MemoryFacts()
    _marshals_receive(facts, FORFEITED, "forfeiture", 1)  # the rest came from no lot we know

    line = _judge(PURCHASE_LIMIT, _handover(FORFEITED + BOUGHT + 1, category="purchase"), facts)

    assert (line.verdict, line.measured_sats) == ("deny", BOUGHT + 1)


def test_named_lots_decide_what_a_handover_brings_in() -> None:
    facts = _mixed()
    bought_lot = facts.lots[1].lot_id

    oldest_first = _judge(PURCHASE_LIMIT, _handover(FORFEITED), facts)
    bought_first = _judge(PURCHASE_LIMIT, _handover(FORFEITED, lot_ids=(bought_lot,)), facts)

    assert oldest_first.reason.startswith("Does not apply")
    # the named lot arrives whole (the fee is what the forfeited lot, taken last, loses)
    assert (bought_first.verdict, bought_first.measured_sats) == ("deny", BOUGHT + FEE_SATS)


def test_an_outflow_counts_by_its_own_reason_not_by_the_lots_it_takes() -> None:
    # cold holds forfeited coins; leaving, the coins count by the outflow's reason
    facts = MemoryFacts()
    facts.book(inbound(10 * BTC, category="forfeiture", when=at(days=1)))
    rule = {
        "type": "transfer_limit",
        "params": {"max_sats": BTC, "direction": "outbound", "categories": ["forfeiture"]},
    }
    victims = {
        "type": "transfer_limit",
        "params": {"max_sats": BTC, "direction": "outbound", "categories": ["return_to_victims"]},
    }

    assert _judge(rule, outbound(2 * BTC), facts).reason.startswith("Does not apply")
    assert _judge(victims, outbound(2 * BTC), facts).verdict == "deny"


def test_the_velocity_window_counts_past_handovers_by_their_lots() -> None:
    facts = _mixed()
    facts.book(_handover(FORFEITED + BOUGHT, when=at(days=30)))  # 0.2 BTC of it was bought
    allowance = {
        "type": "velocity_limit",
        "params": {"max_sats": BTC, "calendar": "year", "direction": "inbound", "categories": ["purchase"]},
    }

    fits = _judge(allowance, inbound(BTC - BOUGHT, when=at(days=40)), facts)
    over = _judge(allowance, inbound(BTC - BOUGHT + 1, when=at(days=40)), facts)

    assert (fits.verdict, fits.measured_sats) == ("allow", BTC)
    assert (over.verdict, over.measured_sats) == ("deny", BTC + 1)


def test_a_pending_handover_weighs_on_the_window_by_the_lots_it_would_take() -> None:
    facts = _mixed()
    facts.book(_handover(FORFEITED + BOUGHT, when=at(days=30)), pending=True)
    allowance = {
        "type": "velocity_limit",
        "params": {
            "max_sats": BOUGHT,
            "window_seconds": 86_400 * 30,
            "direction": "inbound",
            "categories": ["purchase"],
        },
    }

    line = _judge(
        allowance, inbound(1, when=at(days=31), destination_wallet_id=COLD, destination_agency_id=TREASURY), facts
    )

    assert (line.verdict, line.measured_sats) == ("deny", BOUGHT + 1)
    assert at(days=31) > T0
