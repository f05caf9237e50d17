"""No bitcoin-linked liability: the scope owes nothing denominated in or linked to bitcoin (no
loan against the coins, no bond or instrument paid in them). Approving such a liability is
refused while the rule is in force; one found outstanding is a breach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from policy.facts import PolicyFacts
from policy.rules.base import ParseContext, Rule, RuleContext, btc, deny_if
from policy.rules.params import ParamReader
from policy.types import PolicyScope, RuleLine


@dataclass(frozen=True)
class NoBitcoinLiabilities(Rule):
    """No approved, unreleased bitcoin-linked liability may stand against the scope."""

    type_name = "no_bitcoin_liabilities"
    continuous = True

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        return cls()

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return (
            "No bitcoin-linked liabilities: the scope may owe nothing denominated in or linked to bitcoin; "
            "approving such a liability is refused, and one outstanding is a breach."
        )

    def evaluate(self, context: RuleContext) -> RuleLine:
        owed = context.facts.liabilities_sats(scope=context.scope, at=context.state_at)
        # A movement of coins creates no liability: only the observed state can be in breach.
        verdict = deny_if(owed > 0 and context.change.observed)
        reason = (
            "No bitcoin-linked liability outstanding."
            if owed == 0
            else f"Bitcoin-linked liabilities of {btc(owed)} outstanding"
            + (": breached." if verdict == "deny" else "; this movement adds none.")
        )
        return context.line(self, verdict, reason, measured_sats=owed, limit_sats=0)

    def pledge_refusal(self, *, scope: PolicyScope, kind: str, amount_sats: int, facts: PolicyFacts) -> str | None:
        if kind != "liability":
            return None
        return f"no bitcoin-linked liabilities: a liability of {btc(amount_sats)} may not be approved"
