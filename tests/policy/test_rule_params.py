"""Rule parameters: validated, normalized, refused with the field named, described in words."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ValidationFailed
from policy.rules import RULE_TYPES, parse_rules
from tests.policy.builders import BTC, T0, at

EVERY_RULE: list[dict[str, Any]] = [
    {"type": "no_net_accumulation", "params": {"baseline_sats": 6_000 * BTC}},
    {"type": "holdings_cap", "params": {"max_sats": 100 * BTC}},
    {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound", "categories": ["sale"]}},
    {"type": "velocity_limit", "params": {"max_sats": 10 * BTC, "window_seconds": 86_400, "direction": "outbound"}},
    {
        "type": "destination_allowlist",
        "params": {"addresses": ["bc1qexample"], "cool_off_seconds": 172_800, "on_violation": "needs_approval"},
    },
    {"type": "no_disposal", "params": {"allowed_reasons": ["return_to_victims"], "reference_required": True}},
    {"type": "allowed_sources", "params": {"categories": ["forfeiture"], "reference_required": True}},
    {"type": "approval_quorum", "params": {"tiers": [{"min_sats": 100 * BTC, "min_approvals": 3}]}},
    {"type": "encumbrance_cap", "params": {"max_sats": 5 * BTC}},
    {"type": "zero_balance_after", "params": {"wallets": [7], "at": "2026-06-30T00:00:00Z"}},
    {"type": "fiat_holdings_cap", "params": {"currency": "USD", "fiat_total": "public_funds", "percent": "5"}},
    {"type": "no_bitcoin_liabilities", "params": {}},
    {"type": "reporting_obligation", "params": {"within_days": 30, "every_days": 91}},
    {"type": "minimum_holding", "params": {"years": 20, "exempt_reasons": ["court_order_disposal"]}},
]


def refused(rules: list[Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_rules(rules, effective_from=T0)
    return caught.value.fields


def test_every_rule_type_is_parsed_described_and_round_trips():
    # given one rule of each type, as the API would send them
    assert {rule["type"] for rule in EVERY_RULE} == set(RULE_TYPES)

    # when they are parsed, stored and parsed again
    parsed = parse_rules(EVERY_RULE, effective_from=T0)
    stored = [rule.to_json() for rule in parsed]
    reparsed = parse_rules(stored, effective_from=at(days=30))

    # then the stored form is stable and each rule reads as a sentence
    assert [rule.to_json() for rule in reparsed] == stored
    descriptions = [rule.describe() for rule in parsed]
    assert descriptions[0].startswith("No net accumulation: holdings may never exceed 6,000.00000000 BTC")
    assert "forfeiture or civil penalty" in descriptions[0]
    assert descriptions[3] == (
        "Velocity limit: at most 10.00000000 BTC of outbound transfers in any 1 day, counting approved transfers"
        " not yet posted."
    )
    assert "never as a sale" in descriptions[5]
    assert "2 days needs 1 extra approval" in descriptions[4]
    assert "from 100.00000000 BTC, 3 approvals by holders of the approver role" in descriptions[7]


def test_defaults_are_written_into_the_stored_rules():
    # given rules that rely on defaults
    rules = [
        {"type": "no_net_accumulation", "params": {"baseline_height": 880_000}},
        {"type": "approval_quorum", "params": {}},
    ]

    # when parsed
    stored = [rule.to_json() for rule in parse_rules(rules, effective_from=T0)]

    # then the defaults in force today are part of the version for good
    assert stored[0]["params"] == {"baseline_height": 880_000, "exempt_categories": ["forfeiture", "civil_penalty"]}
    assert stored[1]["params"] == {"min_approvals": 2, "role": "approver", "tiers": []}


def test_an_unknown_rule_type_is_refused_naming_its_field():
    fields = refused([EVERY_RULE[1], EVERY_RULE[2], {"type": "max_holdings", "params": {}}])

    assert list(fields) == ["rules[2].type"]
    assert "unknown rule type 'max_holdings'" in fields["rules[2].type"][0]


def test_an_unknown_parameter_is_refused_naming_its_field():
    fields = refused(
        [
            EVERY_RULE[0],
            EVERY_RULE[1],
            {"type": "holdings_cap", "params": {"max_sats": 1, "max_btc": 1}},
        ]
    )

    assert fields == {"rules[2].params.max_btc": ["unknown parameter"]}


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        ({"type": "holdings_cap", "params": {}}, "rules[0].params.max_sats", "is required"),
        ({"type": "holdings_cap", "params": {"max_sats": 1.5}}, "rules[0].params.max_sats", "whole number"),
        ({"type": "holdings_cap", "params": {"max_sats": "100"}}, "rules[0].params.max_sats", "whole number"),
        ({"type": "holdings_cap", "params": {"max_sats": -1}}, "rules[0].params.max_sats", "between 0 and"),
        (
            {"type": "holdings_cap", "params": {"max_sats": 21_000_000 * BTC + 1}},
            "rules[0].params.max_sats",
            "between 0 and",
        ),
        (
            {"type": "transfer_limit", "params": {"max_sats": 1, "direction": "sideways"}},
            "rules[0].params.direction",
            "one of: inbound, outbound, internal",
        ),
        (
            {"type": "transfer_limit", "params": {"max_sats": 1, "direction": "inbound", "categories": ["gift"]}},
            "rules[0].params.categories",
            "unknown categories ['gift']",
        ),
        (
            {"type": "velocity_limit", "params": {"max_sats": 1, "window_seconds": 0, "direction": "inbound"}},
            "rules[0].params.window_seconds",
            "between 1 and",
        ),
        (
            {"type": "no_net_accumulation", "params": {"baseline_sats": 1, "baseline_height": 5}},
            "rules[0].params.baseline_sats",
            "exactly one of",
        ),
        (
            {"type": "no_net_accumulation", "params": {"baseline_at": "2026-01-01T00:00:00"}},
            "rules[0].params.baseline_at",
            "needs a time zone",
        ),
        (
            {"type": "no_disposal", "params": {"allowed_reasons": ["sale"]}},
            "rules[0].params.allowed_reasons",
            "a sale can never be an allowed reason",
        ),
        (
            {"type": "destination_allowlist", "params": {"addresses": ["bc1qa", {"address": "bc1qb", "added": 1}]}},
            "rules[0].params.addresses[1]",
            "unknown keys ['added']",
        ),
        (
            {"type": "destination_allowlist", "params": {"addresses": [{"address": "bc1qb", "added_at": "soon"}]}},
            "rules[0].params.addresses[0].added_at",
            "ISO",
        ),
        (
            {"type": "destination_allowlist", "params": {"on_violation": "warn"}},
            "rules[0].params.on_violation",
            "one of: deny, needs_approval",
        ),
        (
            {"type": "approval_quorum", "params": {"tiers": [{"min_sats": 5, "min_approvals": 0}]}},
            "rules[0].params.tiers[0].min_approvals",
            "between 1 and",
        ),
        (
            {"type": "approval_quorum", "params": {"tiers": [{"min_sats": 5, "min_approvals": 3, "quorum": 1}]}},
            "rules[0].params.tiers[0].quorum",
            "unknown parameter",
        ),
        (
            {"type": "zero_balance_after", "params": {"wallets": [], "at": "2026-06-30T00:00:00Z"}},
            "rules[0].params.wallets",
            "at least one wallet",
        ),
        ({"type": "allowed_sources", "params": {"categories": []}}, "rules[0].params.categories", "at least one"),
        ({"type": "holdings_cap", "params": [1]}, "rules[0].params", "must be an object"),
        ({"type": "holdings_cap", "params": {"max_sats": 1}, "note": "x"}, "rules[0].note", "unknown field"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(rule, field, message):
    fields = refused([rule])

    assert field in fields, fields
    assert message in fields[field][0]


ALL_PARAMS_DEFAULTED = {"no_bitcoin_liabilities", "approval_quorum", "destination_allowlist", "no_disposal"}


@pytest.mark.parametrize("name", sorted(set(RULE_TYPES) - ALL_PARAMS_DEFAULTED))
def test_a_rule_with_no_params_is_refused_naming_what_it_needs(name: str) -> None:
    # A required list left out once reached the rule as the reader's sentinel: a TypeError, a 500.
    fields = refused([{"type": name, "params": {}}])

    assert fields and all(field.startswith("rules[0].params.") for field in fields)
    assert any("is required" in messages[0] or "give exactly one" in messages[0] for messages in fields.values())


def test_every_problem_in_a_list_is_reported_at_once():
    fields = refused([{"type": "holdings_cap", "params": {}}, "cap", {"type": "transfer_limit", "params": {}}])

    assert set(fields) == {
        "rules[0].params.max_sats",
        "rules[1]",
        "rules[2].params.max_sats",
        "rules[2].params.direction",
    }


def test_allowlist_entries_keep_the_date_they_were_first_listed():
    # given a version that listed one address at its start
    first = parse_rules([{"type": "destination_allowlist", "params": {"addresses": ["bc1qold"]}}], effective_from=T0)

    # when the next version lists it again with a new one
    second = parse_rules(
        [{"type": "destination_allowlist", "params": {"addresses": ["bc1qold", "bc1qnew"]}}],
        effective_from=at(days=30),
        previous_rules=first,
    )

    # then the old entry is not new again; the new one dates from the new version
    entries = second[0].to_json()["params"]["addresses"]
    assert entries == [
        {"address": "bc1qold", "added_at": T0.isoformat()},
        {"address": "bc1qnew", "added_at": at(days=30).isoformat()},
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"currency": "usd", "max_fiat": "1"}, "currency"),
        ({"currency": "US1", "max_fiat": "1"}, "currency"),
        ({"currency": "USD", "max_fiat": 1.5}, "max_fiat"),  # a float is not exact: a string is required
        ({"currency": "USD", "max_fiat": "NaN"}, "max_fiat"),
        ({"currency": "USD", "max_fiat": "-1"}, "max_fiat"),
        ({"currency": "USD"}, "max_fiat"),
        ({"currency": "USD", "max_fiat": "1", "fiat_total": "funds", "percent": "5"}, "max_fiat"),
        ({"currency": "USD", "fiat_total": "funds"}, "percent"),
        ({"currency": "USD", "fiat_total": "funds", "percent": "100.01"}, "percent"),
        ({"currency": "USD", "max_fiat": "1", "max_quote_age_seconds": 0}, "max_quote_age_seconds"),
    ],
)
def test_a_fiat_cap_with_bad_params_is_refused_naming_the_field(params: dict[str, Any], field: str) -> None:
    assert f"rules[0].params.{field}" in refused([{"type": "fiat_holdings_cap", "params": params}])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "within_days"),
        ({"within_days": 0}, "within_days"),
        ({"within_days": 30, "every_days": 0}, "every_days"),
        ({"within_days": 30, "every_days": "91"}, "every_days"),
        ({"within_days": 30, "met_by": []}, "met_by"),
        ({"within_days": 30, "met_by": ["press_release"]}, "met_by"),
        ({"within_days": 30, "met_by": ["period_attestation", "period_attestation"]}, "met_by"),
        ({"within_days": 30, "due": "soon"}, "due"),
    ],
)
def test_a_reporting_obligation_with_bad_params_is_refused_naming_the_field(params: dict[str, Any], field: str) -> None:
    assert f"rules[0].params.{field}" in refused([{"type": "reporting_obligation", "params": params}])


def test_a_reporting_obligation_round_trips_with_its_defaults() -> None:
    (rule,) = parse_rules([{"type": "reporting_obligation", "params": {"within_days": 30}}], effective_from=T0)
    assert rule.to_json()["params"] == {"within_days": 30, "met_by": ["holdings_statement", "period_attestation"]}
    assert rule.describe() == (
        "Reporting obligation: a signed holdings statement or period attestation is due within 30 days of the "
        "policy's start; the compliance report shows it due, met or overdue."
    )
