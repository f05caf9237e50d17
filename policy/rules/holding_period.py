"""How long coins must be held: no lot leaves the scope before it has been held N years (since its
acquisition, kept through moves between government wallets), unless the outflow's reason is exempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from policy.rules.base import ParseContext, Rule, RuleContext, btc, moment, plural, words
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import RuleLine

MAX_YEARS = 100


def years_after(at: datetime, years: int) -> datetime:
    """The same moment `years` later (29 February becomes 28 February in a common year)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)


@dataclass(frozen=True)
class MinimumHolding(Rule):
    """A lot acquired at T may leave the scope from T + `years` on (at that moment exactly, not a
    microsecond before). Judged on the lots the outflow takes (the ones it names, else the oldest
    first); an outflow nobody proposed is judged on the lots it took (detective mode)."""

    type_name = "minimum_holding"
    judges_observed = True
    inputs = (
        ParamInput("years", "integer", "Held at least (years)"),
        ParamInput("exempt_reasons", "categories", "Exempt outflow reasons"),
    )

    years: int
    exempt_reasons: tuple[str, ...]

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        years = reader.integer("years", minimum=1, maximum=MAX_YEARS)
        exempt = reader.categories("exempt_reasons", default=())
        if years is None or exempt is None:
            return None
        return cls(years, tuple(exempt))

    def params(self) -> dict[str, Any]:
        return {"years": self.years, "exempt_reasons": list(self.exempt_reasons)}

    def describe(self) -> str:
        exempt = (
            f"; outflows for {words(self.exempt_reasons)} are exempt"
            if self.exempt_reasons
            else "; no outflow reason is exempt"
        )
        return (
            f"Minimum holding: no coin leaves the scope before it has been held {plural(self.years, 'year')} "
            f"since its acquisition (moves between government wallets keep its acquisition date){exempt}."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.direction != "outbound" or change.source_wallet_id is None:
            return context.not_applicable(self, f"nothing leaves {context.scope.label}")
        if change.category in self.exempt_reasons and not change.observed:
            return context.line(
                self, "allow", f"A {change.category.replace('_', ' ')} is exempt from the minimum holding."
            )
        lots = context.facts.lots_moved(
            wallet_id=change.source_wallet_id,
            sats=change.amount_sats + change.fee_sats,
            lot_ids=change.lot_ids,
            subject=change.subject,
        )
        young = [lot for lot in lots if years_after(lot.acquired_at, self.years) > change.at]
        held = sum(lot.sats for lot in young)
        if not young:
            return context.line(
                self,
                "allow",
                f"Every lot it takes ({plural(len(lots), 'lot')}) has been held {plural(self.years, 'year')} "
                f"by {moment(change.at)}.",
                measured_sats=0,
                limit_sats=0,
            )
        first = min(young, key=lambda lot: lot.acquired_at)
        return context.line(
            self,
            "deny",
            f"{btc(held)} of it is in {plural(len(young), 'lot')} held less than {plural(self.years, 'year')}: "
            f"lot {first.lot_id} was acquired at {moment(first.acquired_at)} and may leave from "
            f"{moment(years_after(first.acquired_at, self.years))}.",
            measured_sats=held,
            limit_sats=0,
        )
