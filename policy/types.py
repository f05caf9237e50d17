"""Values the policy engine exchanges with its callers: scopes, proposed changes, decisions.

`reserve` builds a `ProposedChange` from a transfer (or from a movement seen on chain) and
receives a `Decision`; nothing here touches the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

DIRECTIONS = ("inbound", "outbound", "internal")
# The built-in terms of the category vocabulary, seeded active by
# policy/sql/0005_policy_category_seed.sql; the vocabulary in force (these and the terms policy
# administrators approved since) is `policy.selectors.category_codes()`.
CATEGORIES = (
    "purchase",
    "appropriation",
    "seizure",
    "forfeiture",
    "civil_penalty",
    "mining_reward",
    "unclaimed_property",
    "agency_consolidation",
    "fork_airdrop",
    "donation",
    "dust",
    "sale",
    "return_to_victims",
    "court_order_disposal",
    "law_enforcement_operations",
    "equitable_sharing",
    "statutory_release",
    "fee",
    "internal_consolidation",
    "other",
)
SCOPE_KINDS = ("perimeter", "agency", "wallet")
OUTCOMES = ("allow", "deny", "needs_approval")
GATES = ("proposal", "approval", "posting", "observed")
DEFAULT_QUORUM = 2
DEFAULT_APPROVER_ROLE = "approver"

ScopeKind = Literal["perimeter", "agency", "wallet"]
Verdict = Literal["allow", "deny", "needs_approval"]

_SCOPE_RANK = {kind: rank for rank, kind in enumerate(SCOPE_KINDS)}


@dataclass(frozen=True)
class PolicyScope:
    """What a policy governs: the whole perimeter (object_id None), one agency or one wallet."""

    kind: ScopeKind
    object_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCOPE_KINDS:
            raise ValueError(f"unknown scope kind {self.kind!r}")
        if (self.kind == "perimeter") != (self.object_id is None):
            raise ValueError("the perimeter scope has no object id; agency and wallet scopes need one")

    @property
    def label(self) -> str:
        return "perimeter" if self.kind == "perimeter" else f"{self.kind}:{self.object_id}"

    @property
    def sort_key(self) -> tuple[int, int]:
        return (_SCOPE_RANK[self.kind], self.object_id or 0)

    @property
    def lock_key(self) -> int:
        """A stable signed 64-bit key for pg_advisory_xact_lock, the same in every process."""
        digest = hashlib.sha256(f"reserve-ledger:policy-scope:{self.label}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class ApprovalFact:
    approver_id: int
    roles: frozenset[str]
    approved_at: datetime


@dataclass(frozen=True)
class ProposedChange:
    """A movement of reserve bitcoin as the policy engine judges it.

    `direction` and `category` are reserve's identifiers. `at` is the evaluation time (the
    versions in force then are applied). With `observed=True` the movement was not proposed
    but seen on chain: it is already in the facts (holdings at `at`/`block_height` include
    it), so rules judge the state it left instead of adding it again, and only the
    continuous rules (and no disposal) apply.
    """

    direction: str
    category: str
    amount_sats: int
    at: datetime
    fee_sats: int = 0
    source_wallet_id: int | None = None
    destination_wallet_id: int | None = None
    source_agency_id: int | None = None
    destination_agency_id: int | None = None
    source_in_perimeter: bool = False
    destination_in_perimeter: bool = False
    external_address: str = ""
    counterparty_id: int | None = None
    provenance_reference: str = ""
    # The lots an outflow names (specific identification), in order; empty: oldest first (FIFO).
    lot_ids: tuple[int, ...] = ()
    proposer_id: int | None = None
    approvals: tuple[ApprovalFact, ...] = ()
    block_height: int | None = None
    observed: bool = False
    subject_type: str = ""
    subject_id: str = ""

    def scopes(self) -> list[PolicyScope]:
        """Every scope the change touches (perimeter, agencies, wallets), in lock order."""
        found: set[PolicyScope] = set()
        if self.source_in_perimeter or self.destination_in_perimeter:
            found.add(PolicyScope("perimeter"))
        for agency_id in (self.source_agency_id, self.destination_agency_id):
            if agency_id is not None:
                found.add(PolicyScope("agency", agency_id))
        for wallet_id in (self.source_wallet_id, self.destination_wallet_id):
            if wallet_id is not None:
                found.add(PolicyScope("wallet", wallet_id))
        return sorted(found, key=lambda scope: scope.sort_key)

    def sides_in(self, scope: PolicyScope) -> tuple[bool, bool]:
        """(source is inside the scope, destination is inside the scope)."""
        if scope.kind == "perimeter":
            return self.source_in_perimeter, self.destination_in_perimeter
        if scope.kind == "agency":
            return self.source_agency_id == scope.object_id, self.destination_agency_id == scope.object_id
        return self.source_wallet_id == scope.object_id, self.destination_wallet_id == scope.object_id

    def direction_for(self, scope: PolicyScope) -> str | None:
        """The change seen from a scope: entering it, leaving it, within it, or None if untouched."""
        source_in, destination_in = self.sides_in(scope)
        if source_in and destination_in:
            return "internal"
        if destination_in:
            return "inbound"
        if source_in:
            return "outbound"
        return None

    def holdings_delta_sats(self, scope: PolicyScope) -> int:
        """How the change moves the scope's holdings: inflows add the amount, outflows remove
        amount and fee, movements within the scope remove only their fee."""
        direction = self.direction_for(scope)
        if direction == "inbound":
            return self.amount_sats
        if direction == "outbound":
            return -(self.amount_sats + self.fee_sats)
        if direction == "internal":
            return -self.fee_sats
        return 0

    @property
    def subject(self) -> tuple[str, str] | None:
        return (self.subject_type, self.subject_id) if self.subject_type and self.subject_id else None


@dataclass(frozen=True)
class FiatAmount:
    """A fiat amount as of a time: a valuation at a price quote, or a recorded fiat total."""

    amount: Decimal
    currency: str
    as_of: datetime


REPORT_KINDS = ("holdings_statement", "period_attestation")


@dataclass(frozen=True)
class FiledReport:
    """A signed report the reserve made: a holdings statement at a block (covering the perimeter)
    or a period attestation, by its kind, id, when it was made and the block it speaks for."""

    kind: str
    report_id: int
    at: datetime
    block_height: int


@dataclass(frozen=True)
class LotShare:
    """The part of one lot a movement takes: how much, and when and as what the lot was acquired."""

    lot_id: int
    sats: int
    acquired_at: datetime
    category: str
    provenance_reference: str


@dataclass(frozen=True)
class Provenance:
    """Part of what a movement brings in, as what the coins were first acquired: the category and
    reference of the lot they come from, or the movement's own for what no lot covers."""

    category: str
    sats: int
    reference: str


def arriving_parts(taken_sats: Sequence[int], amount_sats: int) -> list[int]:
    """Of the parts an outflow takes, in the order taken (amount and fee), how much of each arrives:
    the amount fills the first parts; the fee, paid last, is what the last parts lose (0: nothing of
    that part arrives). What the parts do not cover (`amount_sats` less their sum) is not listed."""
    arriving, left = [], amount_sats
    for sats in taken_sats:
        arriving.append(max(0, min(sats, left)))
        left -= arriving[-1]
    return arriving


def provenance_of(lots: Sequence[LotShare], *, amount_sats: int, category: str, reference: str) -> list[Provenance]:
    """What a movement of `amount_sats` taking `lots` (in order) from one of our wallets brings in:
    the part of the amount each lot covers, as that lot was acquired, then what no lot covers, as the
    movement is tagged (`category`, `reference`)."""
    parts = arriving_parts([lot.sats for lot in lots], amount_sats)
    found = [
        Provenance(lot.category, sats, lot.provenance_reference) for lot, sats in zip(lots, parts, strict=True) if sats
    ]
    if amount_sats > sum(parts):
        found.append(Provenance(category, amount_sats - sum(parts), reference))
    return found


@dataclass(frozen=True)
class RuleLine:
    """One rule's verdict on one change, in words and numbers."""

    rule_type: str
    rule_index: int
    policy_id: int | None
    policy_version: int | None
    measured_sats: int | None
    limit_sats: int | None
    verdict: Verdict
    reason: str
    version_id: int | None = None
    scope: str = ""
    extra_approvals: int = 0
    required_approvals: int | None = None
    required_role: str = ""


@dataclass(frozen=True)
class Decision:
    """`deny` if any line denies, else `needs_approval` if any line (or the quorum) asks for it, else `allow`."""

    outcome: Verdict
    lines: tuple[RuleLine, ...] = ()
    required_approvals: int = DEFAULT_QUORUM
    required_role: str = DEFAULT_APPROVER_ROLE
    approvals_counted: int = 0
    evaluated_at: datetime | None = None
    versions: tuple[int, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"

    @property
    def denials(self) -> tuple[RuleLine, ...]:
        return tuple(line for line in self.lines if line.verdict == "deny")
