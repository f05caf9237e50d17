"""Rules on how much moves: a limit per transfer and a limit per window (rolling, or a calendar
year, quarter or month), each for all categories or the listed ones. With categories, what enters
the scope from one of our wallets counts by the lots it moves (provenance), split by amount."""

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


# What a limit on categories counts when coins enter the scope: provenance, not the move's own tag.
PROVENANCE_WORDS = (
    "coins moved in from another government wallet count as what they were acquired as (the categories "
    "of their lots, split by amount), and other coins not at all"
)


def counted_sats(context: RuleContext, categories: tuple[str, ...]) -> int:
    """The part of the change a limit on `categories` counts (all of it when none are listed). Seen
    entering the scope, it counts by provenance (`RuleContext.arriving`: the lots it moves from one
    of our wallets, the rest as tagged); leaving the scope or within it, by its own category (the
    outflow's reason). `PolicyFacts.flow_sats` counts the window's past movements the same way."""
    change = context.change
    if not categories:
        return change.amount_sats
    if context.direction != "inbound":
        return change.amount_sats if change.category in categories else 0
    return sum(part.sats for part in context.arriving() if part.category in categories)


def _counted_words(counted: int, amount: int, categories: tuple[str, ...]) -> str:
    if counted == amount:
        return btc(amount)
    return f"{btc(counted)} of {words(categories)} coins in {btc(amount)}"


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
        if self.categories and self.direction == "inbound":
            return (
                f"Per-transfer limit: each inbound transfer brings in at most {btc(self.max_sats)} of "
                f"{words(self.categories)} coins; {PROVENANCE_WORDS}."
            )
        others = "; transfers of other categories do not count" if self.categories else ""
        if self.direction == "internal":
            return (
                f"Per-transfer limit: each {_which(self.categories)}transfer within the scope moves at most "
                f"{btc(self.max_sats)}{others}."
            )
        return (
            f"Per-transfer limit: each {self.direction} {_which(self.categories)}transfer moves at most "
            f"{btc(self.max_sats)}{others}."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != self.direction:
            return context.not_applicable(self, f"the change is not {self.direction} for {context.scope.label}")
        counted = counted_sats(context, self.categories)
        if self.categories and counted == 0:
            return context.not_applicable(self, f"it moves no {words(self.categories)}, which alone is limited here")
        verdict = deny_if(counted > self.max_sats)
        reason = (
            f"Transfer of {_counted_words(counted, change.amount_sats, self.categories)} against a per-transfer "
            f"limit of {btc(self.max_sats)}" + (": over." if verdict == "deny" else ": within.")
        )
        return context.line(self, verdict, reason, measured_sats=counted, limit_sats=self.max_sats)


@dataclass(frozen=True)
class VelocityLimit(Rule):
    """At most `max_sats` in `direction` (of the listed `categories`, or all) within any window
    of `window_seconds`, or within each calendar `period` (UTC year, quarter or month).

    The rolling window ending at the change covers [at - window_seconds, at): a transfer exactly
    `window_seconds` before still counts, one a microsecond earlier does not. A calendar window
    covers [start of the period containing the change, at): the allowance renews at midnight UTC
    on the period's first day. Transfers of other categories use none of it; coins entering the
    scope from one of our wallets count as their lots' categories (`counted_sats`). Approved
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
        pending = "counting approved transfers not yet posted"
        if self.categories and self.direction == "inbound":
            return (
                f"Velocity limit: at most {btc(self.max_sats)} of {words(self.categories)} coins comes in "
                f"within {self._window_words()}, {pending}; {PROVENANCE_WORDS}."
            )
        others = "; transfers of other categories do not count" if self.categories else ""
        which = (
            f"{_which(self.categories)}transfers within the scope"
            if self.direction == "internal"
            else f"{self.direction} {_which(self.categories)}transfers"
        )
        return f"Velocity limit: at most {btc(self.max_sats)} of {which} in {self._window_words()}, {pending}{others}."

    def window_start(self, at: datetime) -> datetime:
        if self.period is not None:
            return period_start(at, self.period)
        assert self.window_seconds is not None
        return at - timedelta(seconds=self.window_seconds)

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != self.direction:
            return context.not_applicable(self, f"the change is not {self.direction} for {context.scope.label}")
        counted = counted_sats(context, self.categories)
        # A change of nothing (the draft warnings' probe) asks only what the window already holds.
        if self.categories and counted == 0 and change.amount_sats > 0:
            return context.not_applicable(self, f"it moves no {words(self.categories)}, which alone is limited here")
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
        total = earlier + counted
        verdict = deny_if(total > self.max_sats)
        reason = (
            f"{btc(earlier)} already moved {self.direction} since {since.isoformat()} plus this "
            f"{_counted_words(counted, change.amount_sats, self.categories)} makes {btc(total)} against "
            f"{btc(self.max_sats)} in {self._window_words()}" + (": over." if verdict == "deny" else ": within.")
        )
        return context.line(self, verdict, reason, measured_sats=total, limit_sats=self.max_sats)
