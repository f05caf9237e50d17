"""The policy draft page's rule builder, driven as a browser without JavaScript drives it (the page's
own form, posted as shown): every rule type's JSON survives builder and back unchanged, a rule
is built field by field with amounts in BTC, bad values are refused on the field that names them
with nothing else lost, and only policy administrators reach the page."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from policy.models import PolicyVersion
from policy.rules import RULE_TYPES
from policy.services import policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Wallet
from tests.reserve.admin.conftest import EXTERNAL
from tests.reserve.admin.page_form import posted

pytestmark = pytest.mark.django_db

ADD = "admin:policy_policyversion_add"
FORM = "service-form"
SAVE = ("_save", "1")
LISTED_AT = "2026-01-02T03:04:05+00:00"


def samples(wallet: Wallet) -> list[tuple[str, dict[str, Any]]]:
    """Params of every rule type (some twice, for their other form), as a policy would store them."""
    return [
        ("no_net_accumulation", {"baseline_sats": 0, "exempt_categories": ["forfeiture", "civil_penalty"]}),
        ("no_net_accumulation", {"baseline_at": "2026-01-01T00:00:00+00:00", "exempt_categories": []}),
        ("no_net_accumulation", {"baseline_height": 840_000, "exempt_categories": ["seizure"]}),
        ("holdings_cap", {"max_sats": 150_000_001}),
        ("transfer_limit", {"max_sats": 1, "direction": "outbound", "categories": ["sale", "return_to_victims"]}),
        ("velocity_limit", {"max_sats": 10**8, "window_seconds": 90_000, "direction": "outbound", "categories": []}),
        ("velocity_limit", {"max_sats": 2 * 10**15, "calendar": "month", "direction": "inbound", "categories": []}),
        (
            "destination_allowlist",
            {
                "addresses": [{"address": EXTERNAL, "added_at": LISTED_AT}],
                "counterparties": [{"counterparty_id": 7, "added_at": LISTED_AT}],
                "cool_off_seconds": 172_800,
                "on_violation": "needs_approval",
                "extra_approvals": 2,
            },
        ),
        ("no_disposal", {"allowed_reasons": ["return_to_victims", "court_order_disposal"], "reference_required": True}),
        ("allowed_sources", {"categories": ["mining_reward", "forfeiture"], "reference_required": ["forfeiture"]}),
        (
            "approval_quorum",
            {
                "min_approvals": 2,
                "role": "approver",
                "tiers": [
                    {"min_sats": 10**9, "min_approvals": 3, "role": "approver"},
                    {"min_sats": 5 * 10**9 + 1, "min_approvals": 4, "role": "policy_admin"},
                ],
            },
        ),
        ("encumbrance_cap", {"max_sats": 0}),
        ("zero_balance_after", {"wallets": [wallet.pk], "at": "2027-06-30T00:00:00+00:00"}),
        ("fiat_holdings_cap", {"currency": "USD", "max_quote_age_seconds": 3_600, "max_fiat": "1000000.00"}),
        (
            "fiat_holdings_cap",
            {"currency": "PKR", "max_quote_age_seconds": 86_400, "fiat_total": "public_funds", "percent": "5.5"},
        ),
        ("no_bitcoin_liabilities", {}),
        ("reporting_obligation", {"within_days": 30, "met_by": ["holdings_statement"], "every_days": 90}),
        ("reporting_obligation", {"within_days": 7, "met_by": ["holdings_statement", "period_attestation"]}),
        ("minimum_holding", {"years": 20, "exempt_reasons": ["return_to_victims"]}),
    ]


def test_the_samples_cover_every_rule_type(wallet: Wallet) -> None:
    assert {name for name, _ in samples(wallet)} == set(RULE_TYPES)


def without_token(data: dict[str, list[str]]) -> dict[str, list[str]]:
    """The form's data but the CSRF token, which each page masks anew."""
    return {name: values for name, values in data.items() if name != "csrfmiddlewaretoken"}


def page(client: Client, query: str = "") -> str:
    response = client.get(reverse(ADD) + query)
    assert response.status_code == 200
    return response.content.decode()


def saved_version(response: Any) -> PolicyVersion:
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return PolicyVersion.objects.order_by("-pk").first()  # type: ignore[return-value]


@pytest.mark.parametrize("sample", range(19), ids=lambda index: f"sample-{index}")
def test_every_rule_type_survives_the_builder_unchanged_when_a_version_is_edited_into_a_new_draft(
    sample: int, policy_admins: list[Any], wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: a stored version with that rule, beside a holdings cap (two rows in the builder)
    rule_type, params = samples(wallet)[sample]
    source = policy_create_draft(
        name="Edited",
        scope=PolicyScope("wallet", wallet.pk),
        rules=[{"type": "holdings_cap", "params": {"max_sats": 1}}, {"type": rule_type, "params": params}],
        effective_from=datetime(2027, 1, 1, tzinfo=UTC),
        author=policy_admins[0],
    )
    assert source.rules[1] == {"type": rule_type, "params": params}
    client = signed_in(policy_admins[1])
    # when: another policy administrator starts from it and saves what the builder shows
    shown = page(client, f"?from={source.pk}")
    data = posted(shown, form_id=FORM, button=SAVE, changes={"effective_from": "2027-02-01 00:00"})
    response = client.post(reverse(ADD), data)
    # then: the new draft's rules are exactly the source's; none came through the JSON field
    assert data["rules"] == [""] and data["rule_count"] == ["2"]
    new = saved_version(response)
    assert new.pk != source.pk and new.policy_id == source.policy_id
    assert new.rules == source.rules


def test_a_rule_is_added_and_filled_in_btc_and_readable_units(
    policy_admins: list[Any], signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(policy_admins[0])
    blank = posted(page(client), form_id=FORM, button=("_add_rule", "1"), changes={"add_rule_type": "velocity_limit"})
    # when: "Add rule" redraws the page with an empty velocity limit row, which is then filled in
    added = client.post(reverse(ADD), {**blank, "name": "Outflows"})
    shown = added.content.decode()
    data = posted(
        shown,
        form_id=FORM,
        button=SAVE,
        changes={
            "effective_from": "2027-01-01 00:00",
            "rule-0-max_sats": "1.5",
            "rule-0-window_seconds": "7",
            "rule-0-window_seconds__unit": "days",
            "rule-0-direction": "outbound",
            "rule-0-categories": ["sale", "return_to_victims"],
        },
    )
    response = client.post(reverse(ADD), data)
    # then: nothing was judged on "Add rule" (no error for the empty row), and the JSON is the engine's
    assert added.status_code == 200 and 'name="rule-0-max_sats"' in shown and "is required" not in shown
    assert 'value="Outflows"' in shown
    assert saved_version(response).rules == [
        {
            "type": "velocity_limit",
            "params": {
                "max_sats": 150_000_000,
                "window_seconds": 7 * 86_400,
                "direction": "outbound",
                "categories": ["sale", "return_to_victims"],
            },
        }
    ]


def two_rows(client: Client, wallet: Wallet, author: Any) -> dict[str, list[str]]:
    """The page started from a version with a transfer limit and a holdings cap, as posted."""
    source = policy_create_draft(
        name="Limits",
        scope=PolicyScope("wallet", wallet.pk),
        rules=[
            {"type": "transfer_limit", "params": {"max_sats": 10**8, "direction": "outbound"}},
            {"type": "holdings_cap", "params": {"max_sats": 5 * 10**8}},
        ],
        effective_from=datetime(2027, 1, 1, tzinfo=UTC),
        author=author,
    )
    return posted(
        page(client, f"?from={source.pk}"),
        form_id=FORM,
        button=SAVE,
        changes={"effective_from": "2027-02-01 00:00", "comment": "tighter"},
    )


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("1.234567891", "has more than 8 decimal places"),
        ("-1", "must not be negative"),
        ("abc", "is not a BTC amount"),
        ("21000000.00000001", "exceeds the 21,000,000 BTC supply"),
        ("1e999999", "exceeds the 21,000,000 BTC supply"),
    ],
)
def test_a_bad_btc_amount_is_refused_on_its_field_naming_the_rule_and_nothing_else_is_lost(
    typed: str, says: str, policy_admins: list[Any], wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(policy_admins[1])
    data = two_rows(client, wallet, policy_admins[0])
    # when: the second rule's cap is mistyped
    response = client.post(reverse(ADD), {**data, "rule-1-max_sats": typed})
    # then: a 400 with the error on that field, naming rule and field; the page keeps every input
    assert response.status_code == 400
    (row_error,) = response.context["builder"].rows[1].form.errors["max_sats"]
    assert row_error.startswith("rule 2 (holdings_cap), Most held (BTC): ") and says in row_error
    assert response.context["builder"].rows[0].form.errors == {}
    again = posted(response.content.decode(), form_id=FORM, button=SAVE)
    assert without_token(again) == without_token({**data, "rule-1-max_sats": [typed]})
    assert PolicyVersion.objects.filter(policy__name="Limits").count() == 1


def test_errors_of_the_rules_parse_land_on_the_builder_field_they_name(
    policy_admins: list[Any], wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(policy_admins[1])
    data = two_rows(client, wallet, policy_admins[0])
    # when: the transfer limit's amount is left out, and an unknown category is forged into it
    response = client.post(reverse(ADD), {**data, "rule-0-max_sats": "", "rule-0-categories": ["sale", "bribes"]})
    # then: the parse's own messages, on the first row's fields
    assert response.status_code == 400
    errors = response.context["builder"].rows[0].form.errors
    assert errors["max_sats"] == ["rule 1 (transfer_limit), Most per transfer (BTC): is required"]
    assert "unknown categories ['bribes']" in errors["categories"][0]
    kept = posted(response.content.decode(), form_id=FORM, button=SAVE)
    assert kept["rule-0-categories"] == ["sale", "bribes"]


def test_rules_in_both_the_builder_and_the_json_field_are_refused_not_guessed(
    policy_admins: list[Any], wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(policy_admins[1])
    data = two_rows(client, wallet, policy_admins[0])
    # when
    both = client.post(reverse(ADD), {**data, "rules": '[{"type": "holdings_cap", "params": {"max_sats": 1}}]'})
    neither = client.post(reverse(ADD), {**data, "rule_count": "0"})
    # then
    assert both.status_code == 400 and "not both" in both.context["form"].errors["rules"][0]
    assert neither.status_code == 400 and "add a rule" in neither.context["form"].errors["rules"][0]
    assert PolicyVersion.objects.filter(policy__name="Limits").count() == 1


def test_a_row_is_removed_and_the_others_keep_what_was_typed(
    policy_admins: list[Any], wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(policy_admins[1])
    data = two_rows(client, wallet, policy_admins[0])
    # when: the first row is removed after the second was changed
    redrawn = client.post(reverse(ADD), {**data, "rule-1-max_sats": "4.25", "_remove": "0"})
    response = client.post(reverse(ADD), posted(redrawn.content.decode(), form_id=FORM, button=SAVE))
    # then
    assert redrawn.status_code == 200
    assert saved_version(response).rules == [{"type": "holdings_cap", "params": {"max_sats": 425_000_000}}]


@pytest.mark.parametrize(
    ("forged", "says"),
    [
        ({"rule_count": "1000000000"}, "at most 50"),
        ({"rule_count": "x"}, "rule_count"),
        ({"rule-0-type": "print_money"}, "unknown rule type 'print_money'"),
        ({"rule-1-max_sats": ["1", "2"], "rule-0-direction": "sideways"}, "Select a valid choice"),
    ],
)
def test_a_forged_builder_post_is_a_400_that_says_why(
    forged: dict[str, Any], says: str, policy_admins: list[Any], wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    client = signed_in(policy_admins[1])
    response = client.post(reverse(ADD), {**two_rows(client, wallet, policy_admins[0]), **forged})
    assert response.status_code == 400 and says in html.unescape(response.content.decode())
    assert PolicyVersion.objects.filter(policy__name="Limits").count() == 1


def test_only_policy_administrators_reach_the_builder(
    operator: Any, approver: Any, auditor: Any, policy_admins: list[Any], signed_in: Callable[[Any], Client]
) -> None:
    data = {
        "name": "Sneaky",
        "scope_kind": "perimeter",
        "effective_from": "2027-01-01 00:00",
        "rule_count": "1",
        "rule-0-type": "holdings_cap",
        "rule-0-max_sats": "21000000",
    }
    for user in (operator, approver, auditor):
        client = signed_in(user)
        assert client.get(reverse(ADD)).status_code == 403
        assert client.post(reverse(ADD), {**data, "_add_rule": "1", "add_rule_type": "holdings_cap"}).status_code == 403
        assert client.post(reverse(ADD), data).status_code == 403
    assert not PolicyVersion.objects.exists()
    saved = signed_in(policy_admins[0]).post(reverse(ADD), data)
    assert saved_version(saved).rules == [{"type": "holdings_cap", "params": {"max_sats": 21_000_000 * 10**8}}]


@pytest.mark.parametrize(
    ("rule_type", "typed", "field", "says"),
    [
        ("approval_quorum", {"rule-0-tiers": "abc 3"}, "tiers", "Tiers: 'abc' is not a BTC amount"),
        ("approval_quorum", {"rule-0-tiers": "10 99"}, "tiers", "Tiers[0].min_approvals: must be between 1 and 20"),
        ("approval_quorum", {"rule-0-tiers": "10"}, "tiers", 'line 1: give "from BTC, approvals[, role]"'),
        ("velocity_limit", {"rule-0-window_seconds": "1.5"}, "window_seconds", "Rolling window: must be a whole"),
        ("destination_allowlist", {"rule-0-counterparties": "seven"}, "counterparties", "positive counterparty id"),
        ("zero_balance_after", {"rule-0-at": "tomorrow"}, "at", "Empty from: must be an ISO 8601 date-time"),
    ],
)
def test_a_bad_value_in_a_nested_or_converted_field_is_shown_on_that_field(
    rule_type: str,
    typed: dict[str, str | list[str]],
    field: str,
    says: str,
    policy_admins: list[Any],
    signed_in: Callable[[Any], Client],
) -> None:
    # given: a new row of that type
    client = signed_in(policy_admins[0])
    blank = posted(page(client), form_id=FORM, button=("_add_rule", "1"), changes={"add_rule_type": rule_type})
    shown = client.post(reverse(ADD), {**blank, "name": "Bad", "effective_from": "2027-01-01 00:00"})
    # when
    response = client.post(reverse(ADD), posted(shown.content.decode(), form_id=FORM, button=SAVE, changes=typed))
    # then
    assert response.status_code == 400
    errors = response.context["builder"].rows[0].form.errors[field]
    assert any(error.startswith(f"rule 1 ({rule_type}), ") and says in error for error in errors), errors
    assert not PolicyVersion.objects.exists()
