"""What every rule type shares: the context it is judged in, its JSON form, and wording helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from ledger.amounts import SATS_PER_BTC
from policy.facts import PolicyFacts
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import PolicyScope, ProposedChange, Provenance, RuleLine, Verdict, provenance_of

# Where a live gate's time ranges end: everything booked so far counts, including postings
# stamped with a block time ahead of the clock.
END_OF_BOOKS = datetime.max.replace(tzinfo=UTC)


def btc(sats: int) -> str:
    """8-decimal BTC wording of a satoshi amount, without floats."""
    sign = "-" if sats < 0 else ""
    whole, fraction = divmod(abs(sats), SATS_PER_BTC)
    return f"{sign}{whole:,}.{fraction:08d} BTC"


def deny_if(denied: bool) -> Verdict:
    return "deny" if denied else "allow"


def moment(value: datetime) -> str:
    return value.isoformat()


def duration(seconds: int) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def words(values: tuple[Any, ...] | list[Any]) -> str:
    """Identifiers as words, "a, b or c"; callers word the empty case themselves."""
    listed = [str(value).replace("_", " ") for value in values]
    return listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}" if listed else ""


def plural(count: int, noun: str, many: str | None = None) -> str:
    """ "1 approval", "2 approvals"; `many` for irregular plurals ("counterparties")."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


@dataclass(frozen=True)
class ParseContext:
    """What parsing may need beyond the params: when the version starts, and the rules of the
    version it replaces (so allowlist entries keep the date they were first listed)."""

    effective_from: datetime
    previous_rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class VersionRules:
    """A policy version reduced to what evaluation needs; works for saved and unsaved drafts."""

    policy_id: int | None
    version_id: int | None
    version: int | None
    name: str
    scope: PolicyScope
    effective_from: datetime
    effective_to: datetime | None
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class RuleContext:
    change: ProposedChange
    facts: PolicyFacts
    version: VersionRules
    rule_index: int
    # Judge against the books as they stand (enforcement under the scope lock) rather than
    # as of `change.at`: a posting stamped with a block time ahead of the clock still counts.
    current: bool = False

    @property
    def scope(self) -> PolicyScope:
        return self.version.scope

    @property
    def at(self) -> datetime:
        return self.change.at

    @property
    def direction(self) -> str | None:
        return self.change.direction_for(self.scope)

    @property
    def judged_height(self) -> int | None:
        """The block an observed movement is judged at; None when judged at a time (or now)."""
        return None if self.current or not self.change.observed else self.change.block_height

    def holdings_sats(self) -> int:
        """Booked holdings of the scope: now when `current`, else at the change's block (observed) or time."""
        if self.current:
            return self.facts.holdings_sats(scope=self.scope)
        if self.judged_height is not None:
            return self.facts.holdings_sats(scope=self.scope, height=self.judged_height)
        return self.facts.holdings_sats(scope=self.scope, at=self.at)

    @property
    def booked_until(self) -> datetime:
        """The end of the books the rule judges: all of them when `current`, else up to the change's time."""
        return END_OF_BOOKS if self.current else self.at

    def arriving(self) -> list[Provenance]:
        """What the change brings in, by provenance. From one of our wallets (a government wallet:
        the Marshals' wallet, another agency's), the lots it moves keep what they were acquired as:
        the part of the amount each lot covers (the fee is what the last lots lose), then the part
        no lot covers as the change is tagged. From outside, all of it as tagged."""
        change = self.change
        if change.source_wallet_id is None:
            return [Provenance(change.category, change.amount_sats, change.provenance_reference)]
        lots = self.facts.lots_moved(
            wallet_id=change.source_wallet_id,
            sats=change.amount_sats + change.fee_sats,
            lot_ids=change.lot_ids,
            subject=change.subject,
        )
        return provenance_of(
            lots, amount_sats=change.amount_sats, category=change.category, reference=change.provenance_reference
        )

    @property
    def state_at(self) -> datetime | None:
        """The time the state (pledges, liabilities, a wallet's balance) is read at: None (now)
        when `current`, else the change's time."""
        return None if self.current else self.at

    def wallet_balance_sats(self, wallet_id: int) -> int:
        return self.facts.wallet_balance_sats(wallet_id=wallet_id, at=self.state_at)

    def line(
        self,
        rule: Rule,
        verdict: Verdict,
        reason: str,
        *,
        measured_sats: int | None = None,
        limit_sats: int | None = None,
        **extra: Any,
    ) -> RuleLine:
        return RuleLine(
            rule_type=rule.type_name,
            rule_index=self.rule_index,
            policy_id=self.version.policy_id,
            policy_version=self.version.version,
            measured_sats=measured_sats,
            limit_sats=limit_sats,
            verdict=verdict,
            reason=reason,
            version_id=self.version.version_id,
            scope=self.scope.label,
            **extra,
        )

    def not_applicable(self, rule: Rule, why: str) -> RuleLine:
        return self.line(rule, "allow", f"Does not apply: {why}.")


class Rule(ABC):
    """A typed rule. `continuous` rules describe a state of the scope and are re-checked on
    observed movements and in compliance reports; the others judge proposed transfers (and,
    with `judges_observed`, observed movements too)."""

    type_name: ClassVar[str]
    continuous: ClassVar[bool] = False
    # Also judges a movement nobody proposed (detective mode), though it describes no state:
    # a rule that no movement may break, however it came about.
    judges_observed: ClassVar[bool] = False
    # The params as a person types them (policy/rules/inputs.py): read by the admin's rule builder.
    inputs: ClassVar[tuple[ParamInput, ...]] = ()

    @classmethod
    @abstractmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        """The rule from its params, or None when `reader` recorded errors."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The params as stored: JSON values, defaults filled in."""

    @abstractmethod
    def describe(self) -> str:
        """The rule in plain language for the admin and the API."""

    @abstractmethod
    def evaluate(self, context: RuleContext) -> RuleLine:
        """One line: measured value, limit, verdict and the reason in words."""

    def pledge_refusal(self, *, scope: PolicyScope, kind: str, amount_sats: int, facts: PolicyFacts) -> str | None:
        """Why approving a pledge or liability of `kind` in `scope` would break this rule; None: it would not."""
        return None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type_name, "params": self.params()}
