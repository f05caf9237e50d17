"""Pakistan's reserve: held, never sold, and grown by state mining whose every payout names its
site; a payout seen on chain without its site reference is a breach (detective mode)."""

from __future__ import annotations

from tests.policy.builders import BTC, inbound, outbound
from tests.scenarios.judge import detect, judge, line

RULES = [
    {
        "type": "allowed_sources",
        "params": {"categories": ["mining_reward", "forfeiture"], "reference_required": ["mining_reward"]},
    },
    {"type": "no_disposal", "params": {"allowed_reasons": []}},
]


def test_a_mining_payout_names_its_site() -> None:
    named = judge(RULES, inbound(3 * BTC, category="mining_reward", provenance_reference="Site PK-07"))
    unnamed = judge(RULES, inbound(3 * BTC, category="mining_reward"))
    assert line(named, "allowed_sources").verdict == "allow"
    assert line(unnamed, "allowed_sources").verdict == "deny"


def test_a_payout_seen_on_chain_without_its_site_is_a_breach() -> None:
    seen = detect(RULES, inbound(3 * BTC, category="mining_reward", block_height=900_000))
    assert [denial.rule_type for denial in seen.denials] == ["allowed_sources"]
    proposed = judge(
        RULES, inbound(3 * BTC, category="mining_reward", provenance_reference="Site PK-07", observed=True)
    )
    assert line(proposed, "allowed_sources").reason.startswith("Does not apply")


def test_nothing_leaves_for_any_reason() -> None:
    decision = judge(RULES, outbound(BTC, category="return_to_victims", provenance_reference="Order 1"))
    assert line(decision, "no_disposal").verdict == "deny"
    assert "for no reason at all" in line(decision, "no_disposal").reason
