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
AWKWARD = re.compile(
    r"\bnone\b|\(s\)|\(es\)|\(ies\)|\b1 (approvals|days|hours|wallets)\b|\b0 listed|  | ,|,,|_"
    r"|\b(\w+) \2\b|\bno reason\b|\bfrom approver\b|\bevery \d+ days? period\b"
)


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


# (rule, its exact description): every rule type, with 0, 1 and many categories, 1 approval, each
# calendar period, and the inbound category limits saying that provenance decides what counts.
EXACT: list[tuple[dict[str, Any], str]] = [
    (
        {"type": "no_net_accumulation", "params": {"baseline_sats": BTC, "exempt_categories": []}},
        (
            "No net accumulation: holdings may never exceed 1.00000000 BTC (no inflow is exempt). Transfers "
            "between perimeter wallets are neutral (their fee lowers holdings); every other inflow counts."
        ),
    ),
    (
        {"type": "no_net_accumulation", "params": {"baseline_sats": BTC, "exempt_categories": ["forfeiture"]}},
        (
            "No net accumulation: holdings may never exceed 1.00000000 BTC plus inflows exempt as forfeiture. "
            "Transfers between perimeter wallets are neutral (their fee lowers holdings); every other inflow "
            "counts."
        ),
    ),
    (
        {
            "type": "no_net_accumulation",
            "params": {"baseline_height": 7, "exempt_categories": ["forfeiture", "dust", "seizure"]},
        },
        (
            "No net accumulation: holdings may never exceed the holdings booked at block 7 plus inflows "
            "exempt as forfeiture, dust or seizure. Transfers between perimeter wallets are neutral (their "
            "fee lowers holdings); every other inflow counts."
        ),
    ),
    ({"type": "holdings_cap", "params": {"max_sats": 0}}, "Holdings cap: the scope may hold at most 0.00000000 BTC."),
    ({"type": "holdings_cap", "params": {"max_sats": 1}}, "Holdings cap: the scope may hold at most 0.00000001 BTC."),
    (
        {"type": "holdings_cap", "params": {"max_sats": 200_000 * BTC}},
        "Holdings cap: the scope may hold at most 200,000.00000000 BTC.",
    ),
    (
        {"type": "encumbrance_cap", "params": {"max_sats": 0}},
        (
            "Encumbrance cap: at most 0.00000000 BTC may be pledged or encumbered; while more is, nothing "
            "leaves the scope, and the encumbrance may never exceed the holdings."
        ),
    ),
    (
        {"type": "encumbrance_cap", "params": {"max_sats": 5 * BTC}},
        (
            "Encumbrance cap: at most 5.00000000 BTC may be pledged or encumbered; while more is, nothing "
            "leaves the scope, and the encumbrance may never exceed the holdings."
        ),
    ),
    (
        {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound", "categories": []}},
        "Per-transfer limit: each outbound transfer moves at most 1.00000000 BTC.",
    ),
    (
        {
            "type": "transfer_limit",
            "params": {"max_sats": BTC, "direction": "outbound", "categories": ["return_to_victims"]},
        },
        (
            "Per-transfer limit: each outbound return to victims transfer moves at most 1.00000000 BTC; "
            "transfers of other categories do not count."
        ),
    ),
    (
        {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "inbound", "categories": ["purchase"]}},
        (
            "Per-transfer limit: each inbound transfer brings in at most 1.00000000 BTC of purchase coins; "
            "coins moved in from another government wallet count as what they were acquired as (the "
            "categories of their lots, split by amount), and other coins not at all."
        ),
    ),
    (
        {
            "type": "transfer_limit",
            "params": {"max_sats": 0, "direction": "internal", "categories": ["internal_consolidation", "other"]},
        },
        (
            "Per-transfer limit: each internal consolidation or other transfer within the scope moves at most "
            "0.00000000 BTC; transfers of other categories do not count."
        ),
    ),
    (
        {
            "type": "transfer_limit",
            "params": {"max_sats": 1, "direction": "inbound", "categories": ["purchase", "mining_reward", "donation"]},
        },
        (
            "Per-transfer limit: each inbound transfer brings in at most 0.00000001 BTC of purchase, mining "
            "reward or donation coins; coins moved in from another government wallet count as what they were "
            "acquired as (the categories of their lots, split by amount), and other coins not at all."
        ),
    ),
    (
        {
            "type": "velocity_limit",
            "params": {"max_sats": BTC, "window_seconds": 1, "direction": "outbound", "categories": []},
        },
        (
            "Velocity limit: at most 1.00000000 BTC of outbound transfers in any 1 second, counting approved "
            "transfers not yet posted."
        ),
    ),
    (
        {
            "type": "velocity_limit",
            "params": {"max_sats": BTC, "window_seconds": 86400, "direction": "outbound", "categories": ["sale"]},
        },
        (
            "Velocity limit: at most 1.00000000 BTC of outbound sale transfers in any 1 day, counting "
            "approved transfers not yet posted; transfers of other categories do not count."
        ),
    ),
    (
        {
            "type": "velocity_limit",
            "params": {"max_sats": BTC, "window_seconds": 604800, "direction": "internal", "categories": []},
        },
        (
            "Velocity limit: at most 1.00000000 BTC of transfers within the scope in any 7 days, counting "
            "approved transfers not yet posted."
        ),
    ),
    (
        {
            "type": "velocity_limit",
            "params": {
                "max_sats": 200_000 * BTC,
                "calendar": "year",
                "direction": "inbound",
                "categories": ["purchase"],
            },
        },
        (
            "Velocity limit: at most 200,000.00000000 BTC of purchase coins comes in within each UTC calendar "
            "year, counting approved transfers not yet posted; coins moved in from another government wallet "
            "count as what they were acquired as (the categories of their lots, split by amount), and other "
            "coins not at all."
        ),
    ),
    (
        {
            "type": "velocity_limit",
            "params": {
                "max_sats": BTC,
                "calendar": "quarter",
                "direction": "inbound",
                "categories": ["purchase", "forfeiture"],
            },
        },
        (
            "Velocity limit: at most 1.00000000 BTC of purchase or forfeiture coins comes in within each UTC "
            "calendar quarter, counting approved transfers not yet posted; coins moved in from another "
            "government wallet count as what they were acquired as (the categories of their lots, split by "
            "amount), and other coins not at all."
        ),
    ),
    (
        {
            "type": "velocity_limit",
            "params": {"max_sats": BTC, "calendar": "month", "direction": "inbound", "categories": []},
        },
        (
            "Velocity limit: at most 1.00000000 BTC of inbound transfers in each UTC calendar month, counting "
            "approved transfers not yet posted."
        ),
    ),
    (
        {"type": "destination_allowlist", "params": {}},
        "Destination allowlist: nothing is listed, so no outflow leaves the perimeter.",
    ),
    (
        {
            "type": "destination_allowlist",
            "params": {"addresses": [ADDRESS], "counterparties": [], "cool_off_seconds": 0},
        },
        "Destination allowlist: outflows leave the perimeter only to 1 listed address.",
    ),
    (
        {
            "type": "destination_allowlist",
            "params": {
                "addresses": [ADDRESS, f"{ADDRESS[:-1]}1"],
                "counterparties": [1, 2],
                "cool_off_seconds": 3600,
                "on_violation": "needs_approval",
                "extra_approvals": 1,
            },
        },
        (
            "Destination allowlist: outflows leave the perimeter only to 2 listed addresses and 2 listed "
            "counterparties; an entry newer than 1 hour needs 1 extra approval."
        ),
    ),
    (
        {
            "type": "destination_allowlist",
            "params": {
                "addresses": [],
                "counterparties": [1],
                "cool_off_seconds": 86400,
                "on_violation": "needs_approval",
                "extra_approvals": 2,
            },
        },
        (
            "Destination allowlist: outflows leave the perimeter only to 1 listed counterparty; an entry "
            "newer than 1 day needs 2 extra approvals."
        ),
    ),
    (
        {"type": "no_disposal", "params": {"allowed_reasons": []}},
        "No disposal: bitcoin never leaves the perimeter, for any reason (a sale included).",
    ),
    (
        {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}},
        (
            "No disposal: bitcoin leaves the perimeter only for return to victims, each with its legal "
            "reference (e.g. the court order); never as a sale."
        ),
    ),
    (
        {
            "type": "no_disposal",
            "params": {
                "allowed_reasons": ["court_order_disposal", "return_to_victims", "statutory_release"],
                "reference_required": False,
            },
        },
        (
            "No disposal: bitcoin leaves the perimeter only for court order disposal, return to victims or "
            "statutory release; never as a sale."
        ),
    ),
    (
        {"type": "allowed_sources", "params": {"categories": ["forfeiture"]}},
        "Allowed sources: inflows only as forfeiture.",
    ),
    (
        {
            "type": "allowed_sources",
            "params": {"categories": ["forfeiture", "civil_penalty"], "reference_required": True},
        },
        (
            "Allowed sources: inflows only as forfeiture or civil penalty; forfeiture or civil penalty "
            "inflows must carry their provenance reference."
        ),
    ),
    (
        {
            "type": "allowed_sources",
            "params": {
                "categories": ["purchase", "mining_reward", "forfeiture"],
                "reference_required": ["mining_reward"],
            },
        },
        (
            "Allowed sources: inflows only as purchase, mining reward or forfeiture; mining reward inflows "
            "must carry their provenance reference."
        ),
    ),
    (
        {"type": "approval_quorum", "params": {"min_approvals": 1}},
        "Approval quorum: 1 approval by a holder of the approver role. The proposer never counts.",
    ),
    (
        {
            "type": "approval_quorum",
            "params": {"min_approvals": 2, "tiers": [{"min_sats": 10 * BTC, "min_approvals": 3}]},
        },
        (
            "Approval quorum: 2 approvals by holders of the approver role; from 10.00000000 BTC, 3 approvals "
            "by holders of the approver role. The proposer never counts."
        ),
    ),
    (
        {
            "type": "approval_quorum",
            "params": {"min_approvals": 1, "tiers": [{"min_sats": BTC, "min_approvals": 2, "role": "board"}]},
        },
        (
            "Approval quorum: 1 approval by a holder of the approver role; from 1.00000000 BTC, 2 approvals "
            "by holders of the board role. The proposer never counts."
        ),
    ),
    (
        {"type": "zero_balance_after", "params": {"wallets": [1], "at": "2027-01-01T00:00:00Z"}},
        "Zero balance after 2027-01-01T00:00:00+00:00: wallet #1 must be empty from then on.",
    ),
    (
        {"type": "zero_balance_after", "params": {"wallets": [1, 2], "at": "2027-01-01T00:00:00Z"}},
        "Zero balance after 2027-01-01T00:00:00+00:00: wallets #1 and #2 must be empty from then on.",
    ),
    (
        {"type": "fiat_holdings_cap", "params": {"currency": "USD", "max_fiat": "0", "max_quote_age_seconds": 60}},
        (
            "Fiat holdings cap: the scope may hold bitcoin worth at most 0.00 USD, valued at the USD price "
            "quote in force; a missing quote, or a quote older than 1 minute, sends the change for approval."
        ),
    ),
    (
        {
            "type": "fiat_holdings_cap",
            "params": {"currency": "USD", "max_fiat": "50000000.5", "max_quote_age_seconds": 86400},
        },
        (
            "Fiat holdings cap: the scope may hold bitcoin worth at most 50,000,000.50 USD, valued at the USD "
            "price quote in force; a missing quote, or a quote older than 1 day, sends the change for "
            "approval."
        ),
    ),
    (
        {
            "type": "fiat_holdings_cap",
            "params": {
                "currency": "EUR",
                "fiat_total": "public_funds",
                "percent": "5",
                "max_quote_age_seconds": 604800,
            },
        },
        (
            "Fiat holdings cap: the scope may hold bitcoin worth at most 5% of the EUR total “public funds” "
            "as last recorded, valued at the EUR price quote in force; a missing quote or total, or a quote "
            "older than 7 days, sends the change for approval."
        ),
    ),
    (
        {"type": "no_bitcoin_liabilities", "params": {}},
        (
            "No bitcoin-linked liabilities: the scope may owe nothing denominated in or linked to bitcoin; "
            "approving such a liability is refused, and one outstanding is a breach."
        ),
    ),
    (
        {"type": "reporting_obligation", "params": {"within_days": 30, "met_by": ["holdings_statement"]}},
        (
            "Reporting obligation: a signed holdings statement is due within 30 days of the policy's start; "
            "the compliance report shows it due, met or overdue."
        ),
    ),
    (
        {
            "type": "reporting_obligation",
            "params": {"within_days": 1, "every_days": 1, "met_by": ["period_attestation", "holdings_statement"]},
        },
        (
            "Reporting obligation: a signed holdings statement or period attestation is due within 1 day of "
            "the start of each day from the policy's start; the compliance report shows it due, met or "
            "overdue."
        ),
    ),
    (
        {
            "type": "reporting_obligation",
            "params": {"within_days": 30, "every_days": 91, "met_by": ["period_attestation"]},
        },
        (
            "Reporting obligation: a signed period attestation is due within 30 days of the start of each "
            "91-day period from the policy's start; the compliance report shows it due, met or overdue."
        ),
    ),
    (
        {"type": "minimum_holding", "params": {"years": 1}},
        (
            "Minimum holding: no coin leaves the scope before it has been held 1 year since its acquisition "
            "(moves between government wallets keep its acquisition date); no outflow reason is exempt."
        ),
    ),
    (
        {
            "type": "minimum_holding",
            "params": {"years": 20, "exempt_reasons": ["court_order_disposal", "return_to_victims"]},
        },
        (
            "Minimum holding: no coin leaves the scope before it has been held 20 years since its acquisition "
            "(moves between government wallets keep its acquisition date); outflows for court order disposal "
            "or return to victims are exempt."
        ),
    ),
]


def test_the_exact_sentences_cover_every_rule_type() -> None:
    assert {rule["type"] for rule, _ in EXACT} == set(RULE_TYPES)


@pytest.mark.parametrize(
    ("rule", "sentence"), EXACT, ids=lambda value: value["type"] if isinstance(value, dict) else ""
)
def test_each_rule_reads_exactly(rule: dict[str, Any], sentence: str) -> None:
    (parsed,) = parse_rules([rule], effective_from=T0)
    assert parsed.describe() == sentence
