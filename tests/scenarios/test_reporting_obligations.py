"""Reporting obligations: US EO 14233 s.4 (each agency accounts for its holdings to the Treasury
within 30 days of the order), quarterly statements, and a report every two years. A duty is met
by a signed report made in time, due until its deadline, overdue one second after it."""

from __future__ import annotations

from datetime import timedelta

from policy.types import FiledReport, PolicyScope
from tests.policy.builders import PERIMETER, T0, at
from tests.policy.memory_facts import MemoryFacts
from tests.scenarios.judge import standing

SECOND = timedelta(seconds=1)
EO_14233_S4 = {"within_days": 30, "met_by": ["holdings_statement"]}
QUARTERLY = {"within_days": 91, "every_days": 91}
BIENNIAL = {"within_days": 730, "every_days": 730, "met_by": ["period_attestation"]}


def filed(*reports: FiledReport) -> MemoryFacts:
    facts = MemoryFacts()
    facts.reports.extend(reports)
    return facts


def test_eo_14233_accounting_one_second_before_the_deadline_meets_it() -> None:
    deadline = at(days=30)
    statement = FiledReport("holdings_statement", 7, deadline - SECOND, 840_000)
    line, met = standing(EO_14233_S4, deadline + SECOND, filed(statement))
    assert (met.status, met.met_by, line.verdict) == ("met", statement, "allow")
    assert "holdings statement 7 at block 840000" in line.reason


def test_eo_14233_accounting_is_due_until_the_deadline_and_overdue_one_second_after() -> None:
    deadline = at(days=30)
    # An attestation does not meet a duty that asks for a holdings statement.
    facts = filed(FiledReport("period_attestation", 3, at(days=2), 840_100))
    due_line, due = standing(EO_14233_S4, deadline, facts)
    over_line, over = standing(EO_14233_S4, deadline + SECOND, facts)
    assert (due.status, due.deadline, due_line.verdict) == ("due", deadline, "allow")
    assert (over.status, over.deadline, over_line.verdict) == ("overdue", deadline, "deny")


def test_eo_14233_each_agency_accounts_by_a_statement_that_proves_its_own_wallets() -> None:
    # given: the Marshals' duty; one statement in time proves the perimeter but not the Marshals'
    # wallet outside it, a later one (still in time) proves all the Marshals' wallets
    marshals = PolicyScope("agency", 3)
    deadline = at(days=30)
    perimeter_only = FiledReport("holdings_statement", 11, at(days=5), 840_000)
    marshals_too = FiledReport("holdings_statement", 12, deadline - SECOND, 840_300)
    facts = filed(perimeter_only)
    facts.report_scopes[perimeter_only.report_id] = frozenset({PERIMETER})
    # then: the perimeter's statement leaves the Marshals' duty overdue one second after the deadline
    assert standing(EO_14233_S4, deadline + SECOND, facts, scope=marshals)[1].status == "overdue"
    assert standing(EO_14233_S4, deadline + SECOND, facts)[1].status == "met"
    # and the statement that proves the Marshals' wallets meets it, at the last second
    facts.reports.append(marshals_too)
    facts.report_scopes[marshals_too.report_id] = frozenset({marshals})
    line, met = standing(EO_14233_S4, deadline + SECOND, facts, scope=marshals)
    assert (met.status, met.met_by, line.verdict) == ("met", marshals_too, "allow")


def test_a_statement_made_before_the_order_does_not_count() -> None:
    facts = filed(FiledReport("holdings_statement", 1, T0 - SECOND, 839_000))
    assert standing(EO_14233_S4, at(days=31), facts)[1].status == "overdue"


def test_a_late_statement_cures_the_duty_and_says_it_was_late() -> None:
    late = FiledReport("holdings_statement", 9, at(days=30) + SECOND, 840_500)
    line, met = standing(EO_14233_S4, at(days=40), filed(late))
    assert met.status == "met" and line.reason.startswith("Met (late)")


def test_quarterly_statements_each_quarter_by_its_own_report() -> None:
    # given the first quarter met; the second quarter (from day 91) is due by day 182
    first = FiledReport("holdings_statement", 1, at(days=10), 840_000)
    deadline = at(days=182)
    in_time = FiledReport("period_attestation", 2, deadline - SECOND, 853_000)

    line, met = standing(QUARTERLY, deadline - SECOND, filed(first, in_time))
    _, next_quarter = standing(QUARTERLY, deadline + SECOND, filed(first, in_time))
    over_line, over = standing(QUARTERLY, deadline + SECOND, filed(first))

    assert (met.status, met.met_by, met.deadline, line.verdict) == ("met", in_time, deadline, "allow")
    # one second later the third quarter's duty is due, the second's met; without its report, overdue
    assert (next_quarter.status, next_quarter.deadline) == ("due", at(days=273))
    assert (over.status, over.deadline, over_line.verdict) == ("overdue", deadline, "deny")
    assert f"due by {deadline.isoformat()}" in over_line.reason


def test_one_report_does_not_meet_the_next_quarter() -> None:
    facts = filed(FiledReport("holdings_statement", 1, at(days=1), 840_000))
    assert standing(QUARTERLY, at(days=91), facts)[1].status == "due"
    assert standing(QUARTERLY, at(days=182), facts)[1].status == "due"
    assert standing(QUARTERLY, at(days=182) + SECOND, facts)[1].status == "overdue"


def test_a_report_every_two_years_met_and_missed() -> None:
    attestation = FiledReport("period_attestation", 4, at(days=729), 900_000)
    assert standing(BIENNIAL, at(days=730) - SECOND, filed(attestation))[1].status == "met"
    assert standing(BIENNIAL, at(days=1_460) + SECOND, filed(attestation))[1].status == "overdue"
    assert standing(BIENNIAL, at(days=730) + SECOND, filed())[1].status == "overdue"
