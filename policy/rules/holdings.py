"""Continuous rules over what a scope holds: no net accumulation, holdings cap, encumbrance
cap, zero balance after a date. Each is checked on proposals and again on observed movements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from policy.facts import PolicyFacts
from policy.rules.base import END_OF_BOOKS, ParseContext, Rule, RuleContext, btc, deny_if, moment, words
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import PolicyScope, RuleLine

DEFAULT_EXEMPT_CATEGORIES = ("forfeiture", "civil_penalty")


@dataclass(frozen=True)
class NoNetAccumulation(Rule):
    """Holdings may never exceed the baseline plus exempt inflows received since the baseline.

    With `baseline_sats` the baseline is taken at the version's effective time, so exempt
    inflows count from then on.
    """

    type_name = "no_net_accumulation"
    continuous = True
    inputs = (
        ParamInput("baseline_sats", "btc", "Baseline (BTC)", optional=True, help="give one baseline of the three"),
        ParamInput(
            "baseline_at", "moment", "Baseline: holdings at", optional=True, help="ISO 8601, e.g. 2026-01-01T00:00:00Z"
        ),
        ParamInput("baseline_height", "integer", "Baseline: holdings at block", optional=True),
        ParamInput("exempt_categories", "categories", "Exempt inflows"),
    )

    baseline_sats: int | None
    baseline_at: datetime | None
    baseline_height: int | None
    exempt_categories: tuple[str, ...]

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        given = [name for name in ("baseline_sats", "baseline_at", "baseline_height") if reader.has(name)]
        baseline_sats = reader.sats("baseline_sats", default=None)
        baseline_at = reader.moment("baseline_at", default=None)
        baseline_height = reader.integer("baseline_height", minimum=0, maximum=100_000_000, default=None)
        exempt = reader.categories("exempt_categories", default=DEFAULT_EXEMPT_CATEGORIES)
        if len(given) != 1:
            reader.fail("baseline_sats", "give exactly one of baseline_sats, baseline_at, baseline_height")
            return None
        if exempt is None or (baseline_sats, baseline_at, baseline_height) == (None, None, None):
            return None
        return cls(baseline_sats, baseline_at, baseline_height, tuple(exempt))

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"exempt_categories": list(self.exempt_categories)}
        if self.baseline_sats is not None:
            params["baseline_sats"] = self.baseline_sats
        if self.baseline_at is not None:
            params["baseline_at"] = moment(self.baseline_at)
        if self.baseline_height is not None:
            params["baseline_height"] = self.baseline_height
        return params

    def _baseline_words(self) -> str:
        if self.baseline_sats is not None:
            return btc(self.baseline_sats)
        if self.baseline_at is not None:
            return f"the holdings booked at {moment(self.baseline_at)}"
        return f"the holdings booked at block {self.baseline_height}"

    def describe(self) -> str:
        exempt = (
            f" plus inflows exempt as {words(self.exempt_categories)}"
            if self.exempt_categories
            else " (no inflow is exempt)"
        )
        return (
            f"No net accumulation: holdings may never exceed {self._baseline_words()}{exempt}. Transfers "
            "between perimeter wallets are neutral (their fee lowers holdings); every other inflow counts."
        )

    def _exempt_inflows(self, context: RuleContext, since: datetime | None) -> int:
        """Exempt inflows since the baseline, as far as the holdings they are weighed against:
        judged at a block, up to that block (block times need not increase with height)."""
        facts, height = context.facts, context.judged_height
        exempt = facts.exempt_inflows_sats(
            scope=context.scope,
            since=since,
            since_height=self.baseline_height,
            until=END_OF_BOOKS if height is not None else context.booked_until,
            categories=self.exempt_categories,
        )
        if height is None:
            return exempt
        later = facts.exempt_inflows_sats(
            scope=context.scope,
            since=since,
            since_height=max(height, self.baseline_height or height),
            until=END_OF_BOOKS,
            categories=self.exempt_categories,
        )
        return exempt - later

    def evaluate(self, context: RuleContext) -> RuleLine:
        facts, scope, change = context.facts, context.scope, context.change
        if self.baseline_sats is not None:
            baseline = self.baseline_sats
        elif self.baseline_at is not None:
            baseline = facts.holdings_sats(scope=scope, at=self.baseline_at)
        else:
            baseline = facts.holdings_sats(scope=scope, height=self.baseline_height)
        since = self.baseline_at
        if self.baseline_sats is not None:
            since = context.version.effective_from
        exempt = self._exempt_inflows(context, since)
        holdings = context.holdings_sats()
        direction = context.direction
        if change.observed:
            ceiling = baseline + exempt
            verdict = deny_if(holdings > ceiling)
            return context.line(
                self,
                verdict,
                f"Holdings {btc(holdings)} against a ceiling of {btc(ceiling)} "
                f"(baseline {btc(baseline)} + exempt inflows {btc(exempt)}): "
                + ("above the ceiling." if verdict == "deny" else f"{btc(ceiling - holdings)} of room."),
                measured_sats=holdings,
                limit_sats=ceiling,
            )
        delta = change.holdings_delta_sats(scope)
        exempt_added = change.amount_sats if direction == "inbound" and change.category in self.exempt_categories else 0
        ceiling = baseline + exempt + exempt_added
        after = holdings + delta
        # A change that does not add to net accumulation passes even above the ceiling:
        # refusing a consolidation or a disposal would not bring holdings back down.
        accumulates = delta - exempt_added > 0
        verdict = deny_if(after > ceiling and accumulates)
        kind = (
            "neutral movement within the scope; its fee lowers holdings"
            if direction == "internal"
            else f"exempt {change.category.replace('_', ' ')} inflow raises the ceiling"
            if exempt_added
            else f"{direction} {change.category.replace('_', ' ')}"
        )
        outcome = (
            f"would exceed the ceiling by {btc(after - ceiling)}."
            if verdict == "deny"
            else f"within the ceiling by {btc(ceiling - after)}."
            if after <= ceiling
            else "above the ceiling already, but this change does not add to it."
        )
        return context.line(
            self,
            verdict,
            f"Holdings {btc(holdings)} become {btc(after)} ({kind}); ceiling {btc(ceiling)} "
            f"(baseline {btc(baseline)} + exempt inflows {btc(exempt + exempt_added)}): {outcome}",
            measured_sats=after,
            limit_sats=ceiling,
        )


@dataclass(frozen=True)
class HoldingsCap(Rule):
    type_name = "holdings_cap"
    continuous = True
    inputs = (ParamInput("max_sats", "btc", "Most held (BTC)"),)

    max_sats: int

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        max_sats = reader.sats("max_sats")
        return None if max_sats is None else cls(max_sats)

    def params(self) -> dict[str, Any]:
        return {"max_sats": self.max_sats}

    def describe(self) -> str:
        return f"Holdings cap: the scope may hold at most {btc(self.max_sats)}."

    def evaluate(self, context: RuleContext) -> RuleLine:
        holdings = context.holdings_sats()
        change = context.change
        delta = 0 if change.observed else change.holdings_delta_sats(context.scope)
        after = holdings + delta
        verdict = deny_if(after > self.max_sats and (change.observed or delta > 0))
        reason = f"Holdings {btc(after)} against a cap of {btc(self.max_sats)}: " + (
            f"{btc(after - self.max_sats)} over."
            if verdict == "deny"
            else f"{btc(self.max_sats - after)} of room."
            if after <= self.max_sats
            else "over the cap already, but this change does not add to it."
        )
        return context.line(self, verdict, reason, measured_sats=after, limit_sats=self.max_sats)


@dataclass(frozen=True)
class EncumbranceCap(Rule):
    """Encumbered sats (pledged, or reserved for approved outflows, as the facts count them)
    may not exceed the cap; while they do, nothing more leaves the scope. Observed, it is also
    a breach when the encumbrance exceeds what the scope holds."""

    type_name = "encumbrance_cap"
    continuous = True
    inputs = (ParamInput("max_sats", "btc", "Most encumbered (BTC)"),)

    max_sats: int

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        max_sats = reader.sats("max_sats")
        return None if max_sats is None else cls(max_sats)

    def params(self) -> dict[str, Any]:
        return {"max_sats": self.max_sats}

    def describe(self) -> str:
        return (
            f"Encumbrance cap: at most {btc(self.max_sats)} may be pledged or encumbered; while more is, "
            "nothing leaves the scope, and the encumbrance may never exceed the holdings."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        encumbered = context.facts.encumbered_sats(scope=context.scope, at=context.state_at)
        if change.observed:
            holdings = context.holdings_sats()
            limit = min(self.max_sats, holdings)
            verdict = deny_if(encumbered > limit)
            reason = (
                f"Encumbered {btc(encumbered)} against a cap of {btc(self.max_sats)} and holdings of {btc(holdings)}"
            )
            return context.line(
                self,
                verdict,
                f"{reason}: {'breached' if verdict == 'deny' else 'within'}.",
                measured_sats=encumbered,
                limit_sats=limit,
            )
        # Only a movement out of the scope can be held back; inflows never worsen an encumbrance.
        verdict = deny_if(encumbered > self.max_sats and change.holdings_delta_sats(context.scope) < 0)
        reason = f"Encumbered {btc(encumbered)} against a cap of {btc(self.max_sats)}: " + (
            "over the cap, so nothing leaves the scope until it is back under."
            if verdict == "deny"
            else f"{btc(self.max_sats - encumbered)} of room."
            if encumbered <= self.max_sats
            else "over the cap, but this change takes nothing out."
        )
        return context.line(self, verdict, reason, measured_sats=encumbered, limit_sats=self.max_sats)

    def pledge_refusal(self, *, scope: PolicyScope, kind: str, amount_sats: int, facts: PolicyFacts) -> str | None:
        if kind == "liability":
            return None  # owed, not held: no coins of the scope are encumbered
        after = facts.encumbered_sats(scope=scope) + amount_sats
        if after <= self.max_sats:
            return None
        return (
            f"encumbrance cap: the pledge would encumber {btc(after)} against a cap of {btc(self.max_sats)}, "
            f"{btc(after - self.max_sats)} over"
        )


@dataclass(frozen=True)
class ZeroBalanceAfter(Rule):
    """A fund being dissolved: from `at` on, the listed wallets must hold nothing."""

    type_name = "zero_balance_after"
    continuous = True
    inputs = (
        ParamInput("wallets", "wallets", "Wallets"),
        ParamInput("at", "moment", "Empty from", help="ISO 8601, e.g. 2027-01-01T00:00:00Z"),
    )

    wallets: tuple[int, ...]
    at: datetime

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        wallets = reader.ids("wallets")
        at = reader.moment("at")
        if wallets is not None and not wallets:
            reader.fail("wallets", "must list at least one wallet")
            return None
        return None if wallets is None or at is None else cls(tuple(wallets), at)

    def params(self) -> dict[str, Any]:
        return {"wallets": list(self.wallets), "at": moment(self.at)}

    def describe(self) -> str:
        listed = [f"#{wallet}" for wallet in self.wallets]
        which = (
            f"wallet {listed[0]} must be"
            if len(listed) == 1
            else f"wallets {', '.join(listed[:-1])} and {listed[-1]} must be"
        )
        return f"Zero balance after {moment(self.at)}: {which} empty from then on."

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        if context.at < self.at:
            return context.not_applicable(self, f"the wallets must be empty only from {moment(self.at)}")
        balance = sum(context.wallet_balance_sats(wallet) for wallet in self.wallets)
        if change.observed:
            verdict = deny_if(balance > 0)
            reason = f"Listed wallets hold {btc(balance)}; they must be empty since {moment(self.at)}."
            return context.line(self, verdict, reason, measured_sats=balance, limit_sats=0)
        after = balance
        if change.source_wallet_id in self.wallets:
            after -= change.amount_sats + change.fee_sats
        if change.destination_wallet_id in self.wallets:
            after += change.amount_sats
        fills = change.destination_wallet_id in self.wallets and change.source_wallet_id != change.destination_wallet_id
        verdict = deny_if(fills)
        reason = (
            f"Would pay {btc(change.amount_sats)} into wallet #{change.destination_wallet_id}, "
            f"which must stay empty since {moment(self.at)}."
            if fills
            else f"Listed wallets hold {btc(max(after, 0))} after this change; nothing is paid into them."
        )
        return context.line(self, verdict, reason, measured_sats=max(after, 0), limit_sats=0)
