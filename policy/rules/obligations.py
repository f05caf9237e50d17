"""A reporting obligation: a duty with a deadline, met by a signed report. "Each agency accounts
for its holdings within 30 days of the order" (one duty from the version's start), "quarterly
statements" or "a report every two years" (a new duty every `every_days`). It judges no
transfer: the compliance report shows each day whether the duty is due, met (and by which
report) or overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from policy.rules.base import ParseContext, Rule, RuleContext, deny_if, duration, moment, words
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import REPORT_KINDS, FiledReport, RuleLine

MAX_DAYS = 3_660


@dataclass(frozen=True)
class Standing:
    """Where the duty stands at a time: `due` (by `deadline`), `met` (by `met_by`) or `overdue`
    (the earliest unmet duty's `deadline` has passed)."""

    status: str
    deadline: datetime
    met_by: FiledReport | None

    def to_json(self) -> dict[str, Any]:
        report = self.met_by
        return {
            "status": self.status,
            "deadline": moment(self.deadline),
            "met_by": None
            if report is None
            else {
                "kind": report.kind,
                "id": report.report_id,
                "at": moment(report.at),
                "block_height": report.block_height,
            },
        }


@dataclass(frozen=True)
class ReportingObligation(Rule):
    """Duty k starts at the version's start plus k times `every_days` (only k = 0 without it) and is
    met by a report of `met_by` made at or after its start; unmet `within_days` after its start
    (the deadline itself still counts as in time) it is overdue until a report is made."""

    type_name = "reporting_obligation"
    inputs = (
        ParamInput("within_days", "integer", "Due within (days)"),
        ParamInput("every_days", "integer", "A new duty every (days)", optional=True, help="blank: once"),
        ParamInput("met_by", "choices", "Met by a signed", choices=REPORT_KINDS),
    )

    within_days: int
    every_days: int | None
    met_by: tuple[str, ...]

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        within = reader.integer("within_days", minimum=1, maximum=MAX_DAYS)
        every = reader.integer("every_days", minimum=1, maximum=MAX_DAYS, default=None)
        kinds = reader.listing("met_by", default=list(REPORT_KINDS))
        if kinds is not None:
            unknown = [kind for kind in kinds if kind not in REPORT_KINDS]
            if unknown or not kinds or len(set(kinds)) != len(kinds):
                reader.fail("met_by", f"must be distinct kinds among {', '.join(REPORT_KINDS)}, at least one")
                return None
        if within is None or kinds is None or (every is None and reader.has("every_days")):
            return None
        return cls(within, every, tuple(kind for kind in REPORT_KINDS if kind in kinds))

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"within_days": self.within_days, "met_by": list(self.met_by)}
        if self.every_days is not None:
            params["every_days"] = self.every_days
        return params

    def describe(self) -> str:
        within = duration(self.within_days * 86_400)
        if self.every_days is None:
            when = f"within {within} of the policy's start"
        elif self.every_days == 1:
            when = f"within {within} of the start of each day from the policy's start"
        else:
            when = f"within {within} of the start of each {self.every_days}-day period from the policy's start"
        return (
            f"Reporting obligation: a signed {words(list(self.met_by))} is due {when}; "
            "the compliance report shows it due, met or overdue."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        return context.not_applicable(self, "a reporting obligation judges no transfer; the compliance report shows it")

    def standing(self, context: RuleContext) -> tuple[RuleLine, Standing]:
        """The duty at `context.at`, as a report line (overdue denies) and its standing."""
        start = context.version.effective_from
        return self.standing_among(
            context, context.facts.reports_filed(kinds=self.met_by, since=start, until=context.at, scope=context.scope)
        )

    def reports_read(self, context: RuleContext, *, until: datetime) -> list[FiledReport]:
        """Every report that counts for this duty up to `until`: read once, `standing_among` any day before."""
        return context.facts.reports_filed(
            kinds=self.met_by, since=context.version.effective_from, until=until, scope=context.scope
        )

    def standing_among(self, context: RuleContext, reports: list[FiledReport]) -> tuple[RuleLine, Standing]:
        """`standing` from `reports` (those of `met_by` from the version's start, in the order made;
        any made after `context.at` are left out)."""
        start, at, within = context.version.effective_from, context.at, timedelta(days=self.within_days)
        reports = [report for report in reports if report.at <= at]
        latest = start
        if self.every_days is not None and at > start:
            period = timedelta(days=self.every_days)
            latest = start + period * ((at - start) // period)
        # A report covers every duty started by the time it was made: the unmet ones started after the last.
        first_unmet: datetime | None = start
        if reports and reports[-1].at >= latest:
            first_unmet = None
        elif reports and self.every_days is not None:
            period = timedelta(days=self.every_days)
            first_unmet = start + period * ((reports[-1].at - start) // period + 1)
        if first_unmet is not None and at > first_unmet + within:
            standing = Standing("overdue", first_unmet + within, None)
            reason = (
                f"Overdue: the report due by {moment(standing.deadline)} (duty from {moment(first_unmet)}) "
                f"was not made by {moment(at)}."
            )
        elif first_unmet is not None:
            standing = Standing("due", first_unmet + within, None)
            reason = f"Due by {moment(standing.deadline)}; no report yet for the duty from {moment(first_unmet)}."
        else:
            report = next(report for report in reports if report.at >= latest)
            standing = Standing("met", latest + within, report)
            late = " (late)" if report.at > standing.deadline else ""
            reason = (
                f"Met{late}: {report.kind.replace('_', ' ')} {report.report_id} at block {report.block_height}, "
                f"made {moment(report.at)}, for the duty from {moment(latest)} due by {moment(standing.deadline)}."
            )
        verdict = deny_if(standing.status == "overdue")
        return context.line(self, verdict, reason), standing
