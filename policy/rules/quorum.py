"""Approval quorum: M approvals from a role, more for larger amounts, the proposer never counting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from ledger.amounts import MAX_SATS
from policy.rules.base import ParseContext, Rule, RuleContext, btc, plural
from policy.rules.inputs import ParamInput
from policy.rules.params import ParamReader
from policy.types import DEFAULT_APPROVER_ROLE, DEFAULT_QUORUM, ProposedChange, RuleLine

MAX_APPROVALS = 20


@dataclass(frozen=True)
class QuorumTier:
    min_sats: int
    min_approvals: int
    role: str


def approvals_from(change: ProposedChange, role: str) -> int:
    """Distinct approvers holding `role`, the proposer excluded."""
    return len(
        {
            approval.approver_id
            for approval in change.approvals
            if role in approval.roles and approval.approver_id != change.proposer_id
        }
    )


def _approvals_by(count: int, role: str) -> str:
    """ "1 approval by a holder of the approver role", "3 approvals by holders of the board role"."""
    who = "a holder" if count == 1 else "holders"
    return f"{plural(count, 'approval')} by {who} of the {role.replace('_', ' ')} role"


@dataclass(frozen=True)
class ApprovalQuorum(Rule):
    """`min_approvals` from `role`; a tier applies from its `min_sats` upwards (the highest
    tier not above the amount wins) and may name its own role."""

    type_name = "approval_quorum"
    inputs = (
        ParamInput("min_approvals", "integer", "Approvals needed"),
        ParamInput("role", "text", "From the role"),
        ParamInput("tiers", "tiers", "Tiers", help='one a line: "from BTC, approvals, role", e.g. "10 3 approver"'),
    )

    min_approvals: int
    role: str
    tiers: tuple[QuorumTier, ...]

    @classmethod
    def parse(cls, reader: ParamReader, context: ParseContext) -> Self | None:
        min_approvals = reader.integer("min_approvals", minimum=1, maximum=MAX_APPROVALS, default=DEFAULT_QUORUM)
        role = reader.text("role", default=DEFAULT_APPROVER_ROLE)
        raw_tiers = reader.listing("tiers", default=[])
        if min_approvals is None or role is None or raw_tiers is None:
            return None
        tiers: list[QuorumTier] = []
        for position, raw in enumerate(raw_tiers):
            tier_reader = ParamReader(raw, f"{reader.path}.tiers[{position}]", reader.errors)
            if not isinstance(raw, Mapping):
                return None
            min_sats = tier_reader.integer("min_sats", minimum=1, maximum=MAX_SATS)
            tier_approvals = tier_reader.integer("min_approvals", minimum=1, maximum=MAX_APPROVALS)
            tier_role = tier_reader.text("role", default=role)
            tier_reader.finish()
            if min_sats is None or tier_approvals is None or tier_role is None:
                return None
            tiers.append(QuorumTier(min_sats, tier_approvals, tier_role))
        if len({tier.min_sats for tier in tiers}) != len(tiers):
            reader.fail("tiers", "two tiers start at the same min_sats")
            return None
        return cls(min_approvals, role, tuple(sorted(tiers, key=lambda tier: tier.min_sats)))

    def params(self) -> dict[str, Any]:
        return {
            "min_approvals": self.min_approvals,
            "role": self.role,
            "tiers": [
                {"min_sats": tier.min_sats, "min_approvals": tier.min_approvals, "role": tier.role}
                for tier in self.tiers
            ],
        }

    def describe(self) -> str:
        text = f"Approval quorum: {_approvals_by(self.min_approvals, self.role)}"
        for tier in self.tiers:
            text += f"; from {btc(tier.min_sats)}, {_approvals_by(tier.min_approvals, tier.role)}"
        return text + ". The proposer never counts."

    def requirement(self, amount_sats: int) -> tuple[int, str, int | None]:
        """(approvals, role, tier threshold or None) for a transfer of `amount_sats`."""
        for tier in reversed(self.tiers):
            if amount_sats >= tier.min_sats:
                return tier.min_approvals, tier.role, tier.min_sats
        return self.min_approvals, self.role, None

    def evaluate(self, context: RuleContext) -> RuleLine:
        change = context.change
        required, role, threshold = self.requirement(change.amount_sats)
        counted = approvals_from(change, role)
        tier = f" (tier from {btc(threshold)})" if threshold is not None else ""
        return context.line(
            self,
            "allow" if counted >= required else "needs_approval",
            f"{btc(change.amount_sats)} needs {plural(required, 'approval')} from {role}{tier}",
            measured_sats=change.amount_sats,
            limit_sats=threshold,
            required_approvals=required,
            required_role=role,
        )
