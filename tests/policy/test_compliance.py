"""Compliance report: each continuous rule per day and at every holdings change."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from config.errors import ValidationFailed
from policy.selectors import policy_compliance_report
from policy.services import policy_detect
from policy.types import FiledReport
from tests.policy.builders import BTC, T0, at, inbound, outbound
from tests.policy.memory_facts import MemoryFacts


@pytest.mark.django_db
def test_days_and_holdings_changes_with_margins_and_breaches(active_policy):
    # given a 105 BTC cap over 100 BTC, then +3 BTC on day 2, and on day 3 +4 BTC (a breach) and -5 BTC
    version = active_policy(
        [
            {"type": "transfer_limit", "params": {"max_sats": BTC, "direction": "outbound"}},
            {"type": "holdings_cap", "params": {"max_sats": 105 * BTC}},
        ]
    )
    facts = MemoryFacts()
    facts.book(inbound(100 * BTC, when=T0 - (at(days=1) - T0)))
    facts.book(inbound(3 * BTC, when=at(days=1, hours=10)))
    donation = inbound(4 * BTC, category="donation", when=at(days=2, hours=12))
    facts.book(donation)
    [breach] = policy_detect(change=replace(donation, observed=True), facts=facts)
    facts.book(outbound(5 * BTC, when=at(days=2, hours=18)))

    # when the report covers the first three days
    rows = policy_compliance_report(version_or_policy=version.policy, since=T0, until=at(days=3), facts=facts)

    # then the per-transfer limit has no rows, and the cap has a row per change and per day
    assert {(row.rule_type, row.rule_index, row.version_id) for row in rows} == {("holdings_cap", 1, version.pk)}
    summary = [
        (row.kind, row.day, row.measured_sats, row.margin_sats, row.worst_margin_sats, row.verdict) for row in rows
    ]
    assert summary == [
        ("day", date(2026, 1, 1), 100 * BTC, 5 * BTC, 5 * BTC, "allow"),
        ("change", date(2026, 1, 2), 103 * BTC, 2 * BTC, 2 * BTC, "allow"),
        ("day", date(2026, 1, 2), 103 * BTC, 2 * BTC, 2 * BTC, "allow"),
        ("change", date(2026, 1, 3), 107 * BTC, -2 * BTC, -2 * BTC, "deny"),
        ("change", date(2026, 1, 3), 102 * BTC - 2_000, 3 * BTC + 2_000, 3 * BTC + 2_000, "allow"),
        ("day", date(2026, 1, 3), 102 * BTC - 2_000, 3 * BTC + 2_000, -2 * BTC, "deny"),
    ]
    assert [row.breaches for row in rows if row.kind == "day"] == [(), (), (breach.pk,)]
    assert rows[0].limit_sats == 105 * BTC
    assert rows[3].reason == "Holdings 107.00000000 BTC against a cap of 105.00000000 BTC: 2.00000000 BTC over."


@pytest.mark.django_db
def test_a_report_follows_the_version_in_force(active_policy):
    first = active_policy([{"type": "holdings_cap", "params": {"max_sats": 105 * BTC}}])
    second = active_policy([{"type": "holdings_cap", "params": {"max_sats": 90 * BTC}}], effective_from=at(days=1))
    facts = MemoryFacts()
    facts.book(inbound(100 * BTC, when=T0 - (at(days=1) - T0)))

    rows = policy_compliance_report(version_or_policy=first.policy, since=T0, until=at(days=2), facts=facts)
    only_first = policy_compliance_report(version_or_policy=first, since=T0, until=at(days=2), facts=facts)

    assert [(row.version_id, row.day, row.verdict) for row in rows] == [
        (first.pk, date(2026, 1, 1), "allow"),
        (second.pk, date(2026, 1, 2), "deny"),
    ]
    assert [(row.version_id, row.verdict) for row in only_first] == [(first.pk, "allow"), (first.pk, "allow")]


@pytest.mark.django_db
def test_an_empty_period_is_refused(active_policy):
    version = active_policy([{"type": "holdings_cap", "params": {"max_sats": BTC}}])

    with pytest.raises(ValidationFailed) as caught:
        policy_compliance_report(version_or_policy=version, since=T0, until=T0, facts=MemoryFacts())

    assert "until" in caught.value.fields


@pytest.mark.django_db
def test_a_reporting_obligation_has_a_row_per_day_due_then_met_then_overdue(active_policy):
    # given a statement due within 1 day of the policy's start and then every 2 days, met once
    version = active_policy([{"type": "reporting_obligation", "params": {"within_days": 1, "every_days": 2}}])
    facts = MemoryFacts(reports=[FiledReport("holdings_statement", 5, at(hours=20), 120)])

    # when the report covers five days
    rows = policy_compliance_report(version_or_policy=version, since=T0, until=at(days=5), facts=facts)

    # then day 1 is met by the statement, day 3 is due (the second duty), day 4 overdue, day 5 due
    # again for the third duty but the second is still overdue
    assert [(row.day, row.obligation["status"], row.verdict) for row in rows if row.obligation] == [
        (date(2026, 1, 1), "met", "allow"),
        (date(2026, 1, 2), "met", "allow"),
        (date(2026, 1, 3), "due", "allow"),
        (date(2026, 1, 4), "overdue", "deny"),
        (date(2026, 1, 5), "overdue", "deny"),
    ]
    standings = [row.obligation for row in rows if row.obligation is not None]
    assert standings[0]["met_by"] == {
        "kind": "holdings_statement",
        "id": 5,
        "at": at(hours=20).isoformat(),
        "block_height": 120,
    }
    assert standings[3]["deadline"] == at(days=3).isoformat()


@pytest.mark.django_db
def test_a_movement_rule_has_a_row_a_day_naming_its_breaches(active_policy):
    # given no sale, and unproposed sales seen on chain: none on day 1, one on day 2, two on day 3
    version = active_policy([{"type": "no_disposal", "params": {"allowed_reasons": []}}])
    facts = MemoryFacts()
    facts.book(inbound(100 * BTC, when=T0 - (at(days=1) - T0)))
    found = []
    for vout, when in enumerate((at(days=1, hours=3), at(days=2, hours=4), at(days=2, hours=5))):
        sale = outbound(BTC, category="other", when=when, proposer_id=None)
        facts.book(sale)
        observed = replace(sale, observed=True, subject_type="movement", subject_id=f"txid:{vout}")
        found += policy_detect(change=observed, facts=facts)

    rows = policy_compliance_report(version_or_policy=version, since=T0, until=at(days=3), facts=facts)

    assert [(row.kind, row.verdict, row.breaches, row.reason) for row in rows] == [
        ("day", "allow", (), "No movement nobody proposed broke the rule this day."),
        ("day", "deny", (found[0].pk,), "1 movement nobody proposed broke the rule this day."),
        ("day", "deny", (found[1].pk, found[2].pk), "2 movements nobody proposed broke the rule this day."),
    ]
