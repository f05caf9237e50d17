"""The compliance report's reporting-obligation rows read the reports once for the period, not
twice a day (about 732 queries for a year), and stand exactly as the duty judged day by day does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policy.rules import parse_rules
from policy.rules.base import RuleContext
from policy.rules.obligations import ReportingObligation
from policy.selectors import version_rules
from policy.types import PolicyScope, ProposedChange
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.selectors import compliance_rows
from reserve.proofs.filed import reports_filed
from reserve.proofs.models import PeriodAttestation
from reserve.proofs.statements import statement_sign
from tests.reserve.compliance.scenarios.conftest import People, activate_policy

pytestmark = pytest.mark.django_db
START = datetime(2025, 1, 1, tzinfo=UTC)
STATEMENT = {"format": "test"}
QUARTERLY = {"type": "reporting_obligation", "params": {"within_days": 30, "every_days": 91}}
# the policy, its versions, holdings changes, the reports of each kind: a bound independent of the days
MAX_QUERIES = 20


def test_a_year_of_obligation_rows_takes_a_bounded_number_of_queries_and_matches_the_daily_standing(
    people: People,
) -> None:
    # given a quarterly duty for a year, met in time in Q1, late in Q2, missed in Q3
    version = activate_policy(
        people, name="Quarterly statements", scope=PolicyScope("perimeter"), rules=[QUARTERLY], effective_from=START
    )
    for made in (START + timedelta(days=20), START + timedelta(days=91 + 40)):
        PeriodAttestation.objects.create(
            network="regtest",
            from_height=100,
            to_height=150,
            verdict="compliant",
            net_accumulation_sats=0,
            statement=STATEMENT,
            statement_signature=statement_sign(STATEMENT),
            created_by=people.operator,
            created_at=made,
        )

    # when the report covers 366 days
    with CaptureQueriesContext(connection) as queries:
        rows = [
            row for _, row in compliance_rows(since=START, until=START + timedelta(days=366), reports=reports_filed)
        ]

    # then one row a day, in a bounded number of queries
    assert len(rows) == 366
    assert len(queries.captured_queries) <= MAX_QUERIES, len(queries.captured_queries)
    # and each day stands as the duty judged alone at that moment (the previous, per-day reading)
    rules = version_rules(version)
    (rule,) = parse_rules(version.rules, effective_from=version.effective_from, vocabulary=None)
    assert isinstance(rule, ReportingObligation)
    facts = ReservePolicyFacts(reports=reports_filed)
    for row in rows:
        snapshot = ProposedChange(direction="internal", category="other", amount_sats=0, at=row.at, observed=True)
        line, standing = rule.standing(RuleContext(change=snapshot, facts=facts, version=rules, rule_index=0))
        assert (row.verdict, row.reason, row.obligation) == (line.verdict, line.reason, standing.to_json()), row.day
    statuses = {row.obligation["status"] for row in rows if row.obligation is not None}
    assert statuses == {"due", "met", "overdue"}
