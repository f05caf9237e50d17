"""Rules on how much moves: a limit per transfer and a limit per rolling window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Self

from policy.rules.base import ParseContext, Rule, RuleContext, btc, deny_if, duration, words
from policy.rules.params import ParamReader
from policy.types import RuleLine

MAX_WINDOW_SECONDS = 366 * 86_400


@dataclass(frozen=True)
class TransferLimit(Rule):
    type_name = "transfer_limit"

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
        which = f"{words(self.categories)} " if self.categories else ""
        return f"Per-transfer limit: each {self.direction} {which}transfer moves at most {btc(self.max_sats)}."

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
    """At most `max_sats` in `direction` within any window of `window_seconds`.

    The window ending at the change covers [at - window_seconds, at): a transfer exactly
    `window_seconds` before still counts, one a microsecond earlier does not. Approved
    transfers not yet posted (pending reservations) count too. At a live gate the window
    has no upper end: a posting stamped with a block time ahead of the clock has moved its
    sats already.
    """

    type_name = "velocity_limit"

    max_sats: int
    window_seconds: int
    direction: str

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        max_sats = reader.sats("max_sats")
        window_seconds = reader.integer("window_seconds", minimum=1, maximum=MAX_WINDOW_SECONDS)
        direction = reader.direction()
        if max_sats is None or window_seconds is None or direction is None:
            return None
        return cls(max_sats, window_seconds, direction)

    def params(self) -> dict[str, Any]:
        return {"max_sats": self.max_sats, "window_seconds": self.window_seconds, "direction": self.direction}

    def describe(self) -> str:
        return (
            f"Velocity limit: at most {btc(self.max_sats)} {self.direction} in any "
            f"{duration(self.window_seconds)}, counting approved transfers not yet posted."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != self.direction:
            return context.not_applicable(self, f"the change is not {self.direction} for {context.scope.label}")
        since = context.at - timedelta(seconds=self.window_seconds)
        earlier = context.facts.flow_sats(
            scope=context.scope,
            direction=self.direction,
            since=since,
            until=context.booked_until,
            include_pending=True,
            excluding_subject=change.subject,
        )
        total = earlier + change.amount_sats
        verdict = deny_if(total > self.max_sats)
        reason = (
            f"{btc(earlier)} already moved {self.direction} since {since.isoformat()} plus this "
            f"{btc(change.amount_sats)} makes {btc(total)} against {btc(self.max_sats)} per "
            f"{duration(self.window_seconds)}" + (": over." if verdict == "deny" else ": within.")
        )
        return context.line(self, verdict, reason, measured_sats=total, limit_sats=self.max_sats)
