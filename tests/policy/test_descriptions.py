"""Every rule reads as plain language for every parameter value (the admin and the API show
`policy_version_rules_in_words`, which is `describe()`): no "none", no "(s)", no "1 approvals"."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from policy.rules import RULE_TYPES, parse_rules
from tests.policy.builders import BTC, T0

COUNTS = [0, 1, 2]
CATEGORY_LISTS: list[list[str]] = [[], ["purchase"], ["purchase", "forfeiture"], ["forfeiture", "dust", "seizure"]]
ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def _grid() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for exempt in CATEGORY_LISTS:
        rules.append({"type": "no_net_accumulation", "params": {"baseline_sats": BTC, "exempt_categories": exempt}})
        rules.append({"type": "no_net_accumulation", "params": {"baseline_height": 7, "exempt_categories": exempt}})
    for sats in (0, 1, BTC):
        rules.append({"type": "holdings_cap", "params": {"max_sats": sats}})
        rules.append({"type": "encumbrance_cap", "params": {"max_sats": sats}})
    for categories, direction in itertools.product(CATEGORY_LISTS, ("inbound", "outbound", "internal")):
        rules.append(
            {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": direction, "categories": categories}}
        )
        for window in ({"window_seconds": 1}, {"window_seconds": 86_400}, {"window_seconds": 7 * 86_400}):
            params = {"max_sats": BTC, "direction": direction, "categories": categories, **window}
            rules.append({"type": "velocity_limit", "params": params})
        for period in ("year", "quarter", "month"):
            params = {"max_sats": BTC, "direction": direction, "categories": categories, "calendar": period}
            rules.append({"type": "velocity_limit", "params": params})
    for addresses, counterparties, cool_off, extra in itertools.product(COUNTS, COUNTS, (0, 3_600), (1, 2)):
        params = {
            "addresses": [f"{ADDRESS[:-1]}{index}" for index in range(addresses)],
            "counterparties": list(range(1, counterparties + 1)),
            "cool_off_seconds": cool_off,
            "on_violation": "needs_approval",
            "extra_approvals": extra,
        }
        rules.append({"type": "destination_allowlist", "params": params})
    for reasons, reference in itertools.product(CATEGORY_LISTS, (False, True)):
        rules.append({"type": "no_disposal", "params": {"allowed_reasons": reasons, "reference_required": reference}})
        if reasons:
            rules.append(
                {"type": "allowed_sources", "params": {"categories": reasons, "reference_required": reference}}
            )
    for approvals in (1, 2, 3):
        tiers = [{"min_sats": BTC, "min_approvals": approvals + 1, "role": "board"}]
        rules.append({"type": "approval_quorum", "params": {"min_approvals": approvals, "tiers": tiers}})
    for cap, age in itertools.product(
        ({"max_fiat": "0"}, {"max_fiat": "50000000.5"}, {"fiat_total": "public_funds", "percent": "5"}),
        (60, 86_400, 7 * 86_400),
    ):
        rules.append({"type": "fiat_holdings_cap", "params": {"currency": "USD", **cap, "max_quote_age_seconds": age}})
    rules.append({"type": "fiat_holdings_cap", "params": {"currency": "EUR", "fiat_total": "budget", "percent": "0.5"}})
    for within, every, met_by in itertools.product(
        (1, 30), (None, 1, 91, 730), (["holdings_statement"], ["period_attestation", "holdings_statement"])
    ):
        params = {"within_days": within, "met_by": met_by, **({} if every is None else {"every_days": every})}
        rules.append({"type": "reporting_obligation", "params": params})
    for wallets in ([1], [1, 2]):
        rules.append({"type": "zero_balance_after", "params": {"wallets": wallets, "at": "2027-01-01T00:00:00Z"}})
    rules.append({"type": "no_bitcoin_liabilities", "params": {}})
    for years, exempt in itertools.product((1, 2, 20), CATEGORY_LISTS):
        rules.append({"type": "minimum_holding", "params": {"years": years, "exempt_reasons": exempt}})
    return rules


GRID = _grid()
AWKWARD = re.compile(r"\bnone\b|\(s\)|\(es\)|\(ies\)|\b1 (approvals|days|hours|wallets)\b|\b0 listed|  | ,|,,|_")


def test_the_grid_covers_every_rule_type() -> None:
    assert {rule["type"] for rule in GRID} == set(RULE_TYPES)


@pytest.mark.parametrize("rule", GRID, ids=lambda rule: rule["type"])
def test_each_description_reads_correctly(rule: dict[str, Any]) -> None:
    (parsed,) = parse_rules([rule], effective_from=T0)
    text = parsed.describe()
    assert not AWKWARD.search(text), text
    assert text[0].isupper() and text.endswith("."), text
    for category in rule["params"].get("categories", []) or rule["params"].get("allowed_reasons", []):
        assert category.replace("_", " ") in text, text


def test_an_empty_list_says_what_it_means() -> None:
    never, exempt_nothing, nothing_listed = (
        rule.describe()
        for rule in parse_rules(
            [
                {"type": "no_disposal", "params": {"allowed_reasons": []}},
                {"type": "no_net_accumulation", "params": {"baseline_sats": BTC, "exempt_categories": []}},
                {"type": "destination_allowlist", "params": {}},
            ],
            effective_from=T0,
        )
    )
    assert "never leaves the perimeter" in never
    assert "no inflow is exempt" in exempt_nothing
    assert "no outflow leaves the perimeter" in nothing_listed


def test_a_minimum_holding_says_its_years_and_its_exemptions() -> None:
    one, twenty = (
        rule.describe()
        for rule in parse_rules(
            [
                {"type": "minimum_holding", "params": {"years": 1}},
                {"type": "minimum_holding", "params": {"years": 20, "exempt_reasons": ["court_order_disposal"]}},
            ],
            effective_from=T0,
        )
    )
    assert "held 1 year since" in one and one.endswith("; no outflow reason is exempt.")
    assert "held 20 years since" in twenty and twenty.endswith("; outflows for court order disposal are exempt.")
