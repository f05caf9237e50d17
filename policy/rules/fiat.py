"""A holdings cap stated in fiat: at most a fiat value at the price quote in force, or at most a
percentage of a fiat total the policy names (e.g. "5% of total public funds", recorded with its
date by a policy administrator). Without a fresh quote, or without the total, the rule cannot
judge: its verdict is `needs_approval` with that reason, never a silent pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Self

from policy.rules.base import ParseContext, Rule, RuleContext, btc, deny_if, duration
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import RuleLine

MAX_FIAT = Decimal("1e18")
DEFAULT_QUOTE_AGE_SECONDS = 86_400
CENT = Decimal("0.01")


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(CENT):,} {currency}"


@dataclass(frozen=True)
class FiatHoldingsCap(Rule):
    """Holdings after the change, valued at the quote in force at the change, may be worth at
    most `max_fiat`, or at most `percent` % of the fiat total `fiat_total` as last recorded.
    A quote older than `max_quote_age_seconds` is stale. Like `holdings_cap`, a proposal that
    does not add to the holdings is never refused by it."""

    type_name = "fiat_holdings_cap"
    continuous = True
    inputs = (
        ParamInput("currency", "text", "Currency (ISO 4217)"),
        ParamInput("max_fiat", "decimal", "Most worth", optional=True, help="or a share of a fiat total"),
        ParamInput("fiat_total", "text", "Fiat total (name)", optional=True),
        ParamInput("percent", "decimal", "Share of that total (%)", optional=True),
        ParamInput("max_quote_age_seconds", "duration", "Oldest usable price quote"),
    )

    currency: str
    max_fiat: Decimal | None
    fiat_total: str | None
    percent: Decimal | None
    max_quote_age_seconds: int

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        currency = reader.currency()
        max_fiat = reader.decimal("max_fiat", minimum=Decimal(0), maximum=MAX_FIAT, default=None)
        fiat_total = reader.text("fiat_total", default=None)
        percent = reader.decimal("percent", minimum=Decimal(0), maximum=Decimal(100), default=None)
        age = reader.integer(
            "max_quote_age_seconds", minimum=1, maximum=366 * 86_400, default=DEFAULT_QUOTE_AGE_SECONDS
        )
        if reader.has("max_fiat") == reader.has("fiat_total"):
            reader.fail("max_fiat", "give exactly one of max_fiat (a fiat value) and fiat_total (with percent)")
            return None
        if reader.has("fiat_total") != reader.has("percent"):
            reader.fail("percent", "a share of a fiat total needs both fiat_total and percent")
            return None
        if currency is None or age is None or (max_fiat is None and (fiat_total is None or percent is None)):
            return None
        return cls(currency, max_fiat, fiat_total, percent, age)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"currency": self.currency, "max_quote_age_seconds": self.max_quote_age_seconds}
        if self.max_fiat is not None:
            params["max_fiat"] = str(self.max_fiat)
        else:
            params.update(fiat_total=self.fiat_total, percent=str(self.percent))
        return params

    def _cap_words(self) -> str:
        if self.max_fiat is not None:
            return _money(self.max_fiat, self.currency)
        assert self.percent is not None and self.fiat_total is not None
        name = self.fiat_total.replace("_", " ")
        return f"{self.percent.normalize():f}% of the {self.currency} total \u201c{name}\u201d as last recorded"

    def describe(self) -> str:
        missing = "a missing quote" if self.max_fiat is not None else "a missing quote or total"
        return (
            f"Fiat holdings cap: the scope may hold bitcoin worth at most {self._cap_words()}, valued at the "
            f"{self.currency} price quote in force; {missing}, or a quote older than "
            f"{duration(self.max_quote_age_seconds)}, sends the change for approval."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        delta = 0 if change.observed else change.holdings_delta_sats(context.scope)
        after = context.holdings_sats() + delta
        adds = change.observed or delta > 0
        if not adds:
            return context.not_applicable(self, "the change does not add to the holdings")
        value = context.facts.fiat_value(sats=after, currency=self.currency, at=context.at)
        if value is None:
            return context.line(
                self,
                "needs_approval",
                f"No {self.currency} price quote in force at {context.at.isoformat()}.",
                measured_sats=after,
            )
        if context.at - value.as_of > timedelta(seconds=self.max_quote_age_seconds):
            return context.line(
                self,
                "needs_approval",
                f"The {self.currency} price quote in force is stale: quoted at {value.as_of.isoformat()}, more than "
                f"{duration(self.max_quote_age_seconds)} before {context.at.isoformat()}.",
                measured_sats=after,
            )
        cap = self.max_fiat
        if cap is None:
            assert self.fiat_total is not None and self.percent is not None
            total = context.facts.fiat_total(name=self.fiat_total, at=context.at)
            if total is None or total.currency != self.currency:
                return context.line(
                    self,
                    "needs_approval",
                    f"No {self.currency} total {self.fiat_total!r} recorded at or before {context.at.isoformat()}.",
                    measured_sats=after,
                )
            cap = (total.amount * self.percent / 100).quantize(CENT, rounding=ROUND_FLOOR)
        verdict = deny_if(value.amount > cap)
        reason = (
            f"Holdings {btc(after)} worth {_money(value.amount, self.currency)} at the quote of "
            f"{value.as_of.isoformat()} against a cap of {_money(cap, self.currency)}"
            + (": over." if verdict == "deny" else ": within.")
        )
        return context.line(self, verdict, reason, measured_sats=after)
