"""El Salvador's IMF programme: the public sector accumulates no bitcoin voluntarily. Holdings
stay at the baseline plus what came in without the state acting (dust and donations to its
published addresses, a fork) or by forfeiture; a purchase of one satoshi more is refused."""

from __future__ import annotations

from tests.policy.builders import BTC, T0, at, inbound, internal
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import detect, judge, line

BASELINE = 6_000 * BTC
RULES = [
    {
        "type": "no_net_accumulation",
        "params": {
            "baseline_sats": BASELINE,
            "exempt_categories": ["forfeiture", "donation", "dust", "fork_airdrop"],
        },
    },
]


def _held() -> MemoryFacts:
    facts = MemoryFacts()
    facts.book(inbound(BASELINE - 1_000, when=T0 - (at(days=1) - T0), block_height=870_000))
    return facts


def test_a_purchase_up_to_the_baseline_passes_and_one_satoshi_more_is_refused() -> None:
    facts = _held()
    assert line(judge(RULES, inbound(1_000), facts), "no_net_accumulation").verdict == "allow"
    refused = line(judge(RULES, inbound(1_001), facts), "no_net_accumulation")
    assert (refused.verdict, refused.measured_sats, refused.limit_sats) == ("deny", BASELINE + 1, BASELINE)


def test_involuntary_inflows_and_consolidations_do_not_count_as_accumulation() -> None:
    facts = _held()
    for category in ("dust", "donation", "fork_airdrop"):
        assert line(judge(RULES, inbound(5 * BTC, category=category), facts), "no_net_accumulation").verdict == "allow"
    assert line(judge(RULES, internal(BTC, fee_sats=500), facts), "no_net_accumulation").verdict == "allow"


def test_dust_seen_on_chain_is_no_breach_once_marked_and_unmarked_it_is() -> None:
    marked = detect(RULES, inbound(2_000, category="dust", block_height=880_000), _held())
    unmarked = detect(RULES, inbound(2_000, category="other", block_height=880_000), _held())
    assert marked.denials == ()
    assert [denial.rule_type for denial in unmarked.denials] == ["no_net_accumulation"]
