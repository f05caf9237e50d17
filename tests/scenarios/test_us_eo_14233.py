"""US Executive Order 14233: the Reserve is capitalised with bitcoin finally forfeited (or taken as a
civil money penalty), not with bitcoin merely seized; it is never sold, and leaves only for the
dispositions of section 3(d), each citing its order."""

from __future__ import annotations

import pytest

from tests.policy.builders import BTC, inbound, internal, outbound
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import judge, line

DISPOSALS = [
    "court_order_disposal",
    "return_to_victims",
    "law_enforcement_operations",
    "equitable_sharing",
    "statutory_release",
]
RULES = [
    {
        "type": "allowed_sources",
        "params": {"categories": ["forfeiture", "civil_penalty"], "reference_required": True},
    },
    {"type": "no_disposal", "params": {"allowed_reasons": DISPOSALS, "reference_required": True}},
]


@pytest.mark.parametrize("category", ["forfeiture", "civil_penalty"])
def test_final_forfeiture_and_civil_money_penalty_enter_with_their_order(category: str) -> None:
    cited = judge(RULES, inbound(BTC, category=category, provenance_reference="Final order 24-cv-7"))
    uncited = judge(RULES, inbound(BTC, category=category))
    assert line(cited, "allowed_sources").verdict == "allow"
    assert line(uncited, "allowed_sources").verdict == "deny"


def test_seized_bitcoin_is_not_yet_the_reserves() -> None:
    seized = judge(RULES, inbound(BTC, category="seizure", provenance_reference="Seizure warrant 24-mj-3"))
    assert line(seized, "allowed_sources").verdict == "deny"
    assert "seizure" in line(seized, "allowed_sources").reason


@pytest.mark.parametrize("reason", DISPOSALS)
def test_each_section_3d_disposition_leaves_with_its_order_and_a_sale_never(reason: str) -> None:
    cited = judge(RULES, outbound(BTC, category=reason, provenance_reference="Order 25-cr-11"))
    uncited = judge(RULES, outbound(BTC, category=reason))
    assert line(cited, "no_disposal").verdict == "allow"
    assert line(uncited, "no_disposal").verdict == "deny"
    assert line(judge(RULES, outbound(BTC, category="sale", provenance_reference="x")), "no_disposal").verdict == "deny"


MARSHALS, MARSHALS_AGENCY = 7, 70


def _moved_in_by_the_marshals(category: str) -> str:
    """Coins the Marshals' wallet (a government wallet outside the Reserve) received as `category`,
    then moved into the Reserve's wallet: judged by the lots moved, not the move's own tag."""
    facts = MemoryFacts()
    facts.book(
        inbound(
            2 * BTC,
            category=category,
            provenance_reference="Final order 24-cv-7",
            destination_wallet_id=MARSHALS,
            destination_agency_id=MARSHALS_AGENCY,
            destination_in_perimeter=False,
        )
    )
    move = internal(
        2 * BTC,
        fee_sats=0,
        category="agency_consolidation",
        source_wallet_id=MARSHALS,
        source_agency_id=MARSHALS_AGENCY,
        source_in_perimeter=False,
    )
    return line(judge(RULES, move, facts), "allowed_sources").verdict


def test_forfeited_coins_moved_in_from_an_agency_wallet_count_as_forfeiture_and_a_purchase_as_purchase() -> None:
    assert _moved_in_by_the_marshals("forfeiture") == "allow"
    assert _moved_in_by_the_marshals("purchase") == "deny"
