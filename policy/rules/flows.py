"""Rules on how much moves: a limit per transfer and a limit per window (rolling, or a calendar
year, quarter or month), each for all categories or the listed ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from policy.rules.base import ParseContext, Rule, RuleContext, btc, deny_if, duration, words
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import DIRECTIONS, RuleLine

MAX_WINDOW_SECONDS = 366 * 86_400
CALENDAR_PERIODS = ("year", "quarter", "month")


def period_start(at: datetime, period: str) -> datetime:
    """The start (UTC) of the calendar year, quarter or month that contains `at`."""
    moment = at.astimezone(UTC)
    month = {"year": 1, "quarter": 3 * ((moment.month - 1) // 3) + 1, "month": moment.month}[period]
    return datetime(moment.year, month, 1, tzinfo=UTC)


def _which(categories: tuple[str, ...]) -> str:
    return f"{words(categories)} " if categories else ""


@dataclass(frozen=True)
class TransferLimit(Rule):
    type_name = "transfer_limit"
    inputs = (
        ParamInput("max_sats", "btc", "Most per transfer (BTC)"),
        ParamInput("direction", "choice", "Direction", choices=DIRECTIONS),
        ParamInput("categories", "categories", "Only these categories", help="none ticked: every category"),
    )

    max_sats: int
    direction: str
    categories: tuple[str, ...]

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        max_sats = reader.sats("max_sats")
        direction = reader.direction()
        categories = reader.categories("categories", default=())
        if max_sats is None or direction is None or categories is None:
            return None
        return cls(max_sats, direction, tuple(categories))

    def params(self) -> dict[str, Any]:
        return {"max_sats": self.max_sats, "direction": self.direction, "categories": list(self.categories)}

    def describe(self) -> str:
        return (
            f"Per-transfer limit: each {self.direction} {_which(self.categories)}transfer moves at most "
            f"{btc(self.max_sats)}."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != self.direction:
            return context.not_applicable(self, f"the change is not {self.direction} for {context.scope.label}")
        if self.categories and change.category not in self.categories:
            return context.not_applicable(self, f"category {change.category} is not limited here")
        verdict = deny_if(change.amount_sats > self.max_sats)
        reason = f"Transfer of {btc(change.amount_sats)} against a per-transfer limit of {btc(self.max_sats)}" + (
            ": over." if verdict == "deny" else ": within."
        )
        return context.line(self, verdict, reason, measured_sats=change.amount_sats, limit_sats=self.max_sats)


@dataclass(frozen=True)
class VelocityLimit(Rule):
    """At most `max_sats` in `direction` (of the listed `categories`, or all) within any window
    of `window_seconds`, or within each calendar `period` (UTC year, quarter or month).

    The rolling window ending at the change covers [at - window_seconds, at): a transfer exactly
    `window_seconds` before still counts, one a microsecond earlier does not. A calendar window
    covers [start of the period containing the change, at): the allowance renews at midnight UTC
    on the period's first day. Transfers of other categories use none of it. Approved
    transfers not yet posted (pending reservations) count too. At a live gate the window
    has no upper end: a posting stamped with a block time ahead of the clock has moved its
    sats already.
    """

    type_name = "velocity_limit"
    inputs = (
        ParamInput("max_sats", "btc", "Most per window (BTC)"),
        ParamInput("window_seconds", "duration", "Rolling window", optional=True, help="or a calendar period"),
        ParamInput("calendar", "choice", "Calendar period (UTC)", choices=CALENDAR_PERIODS, optional=True),
        ParamInput("direction", "choice", "Direction", choices=DIRECTIONS),
        ParamInput("categories", "categories", "Only these categories", help="none ticked: every category"),
    )

    max_sats: int
    window_seconds: int | None
    direction: str
    categories: tuple[str, ...] = ()
    period: str | None = None

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        max_sats = reader.sats("max_sats")
        window_seconds = reader.integer("window_seconds", minimum=1, maximum=MAX_WINDOW_SECONDS, default=None)
        period = reader.choice("calendar", CALENDAR_PERIODS, default=None)
        direction = reader.direction()
        categories = reader.categories("categories", default=())
        if reader.has("window_seconds") == reader.has("calendar"):
            reader.fail("window_seconds", "give exactly one of window_seconds (rolling) and calendar (year, ...)")
            return None
        if max_sats is None or (window_seconds, period) == (None, None) or direction is None or categories is None:
            return None
        return cls(max_sats, window_seconds, direction, tuple(categories), period)

    def params(self) -> dict[str, Any]:
        window: dict[str, Any] = (
            {"calendar": self.period} if self.period is not None else {"window_seconds": self.window_seconds}
        )
        return {"max_sats": self.max_sats, **window, "direction": self.direction, "categories": list(self.categories)}

    def _window_words(self) -> str:
        if self.period is not None:
            return f"each UTC calendar {self.period}"
        assert self.window_seconds is not None
        return f"any {duration(self.window_seconds)}"

    def describe(self) -> str:
        others = "; transfers of other categories do not count" if self.categories else ""
        return (
            f"Velocity limit: at most {btc(self.max_sats)} of {self.direction} {_which(self.categories)}transfers "
            f"in {self._window_words()}, counting approved transfers not yet posted{others}."
        )

    def window_start(self, at: datetime) -> datetime:
        if self.period is not None:
            return period_start(at, self.period)
        assert self.window_seconds is not None
        return at - timedelta(seconds=self.window_seconds)

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != self.direction:
            return context.not_applicable(self, f"the change is not {self.direction} for {context.scope.label}")
        if self.categories and change.category not in self.categories:
            return context.not_applicable(self, f"category {change.category} is not limited here")
        since = self.window_start(context.at)
        earlier = context.facts.flow_sats(
            scope=context.scope,
            direction=self.direction,
            since=since,
            until=context.booked_until,
            categories=self.categories or None,
            include_pending=True,
            excluding_subject=change.subject,
        )
        total = earlier + change.amount_sats
        verdict = deny_if(total > self.max_sats)
        reason = (
            f"{btc(earlier)} already moved {self.direction} since {since.isoformat()} plus this "
            f"{btc(change.amount_sats)} makes {btc(total)} against {btc(self.max_sats)} in "
            f"{self._window_words()}" + (": over." if verdict == "deny" else ": within.")
        )
        return context.line(self, verdict, reason, measured_sats=total, limit_sats=self.max_sats)
