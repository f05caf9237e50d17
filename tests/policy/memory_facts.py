"""An in-memory PolicyFacts for unit tests: a list of booked and pending movements.

It answers as `reserve.compliance.facts.ReservePolicyFacts` does; the contract test in
tests/reserve/compliance/test_facts_contract.py holds the two against each other. A movement
stands at `at`: for a booked one the later of when it moved and when it was approved, for a
pending one (approved, not yet posted) its approval time."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

from policy.types import PolicyScope, ProposedChange


@dataclass
class MemoryFacts:
    movements: list[tuple[ProposedChange, bool]] = field(default_factory=list)  # (movement, pending)
    pledged: dict[PolicyScope, int] = field(default_factory=dict)  # encumbrances besides reservations

    def book(self, change: ProposedChange, *, pending: bool = False) -> None:
        self.movements.append((replace(change, observed=False, approvals=()), pending))

    def _booked(self) -> list[ProposedChange]:
        return [movement for movement, pending in self.movements if not pending]

    def holdings_sats(self, *, scope: PolicyScope, at: datetime | None = None, height: int | None = None) -> int:
        total = 0
        for movement in self._booked():
            if height is not None and (movement.block_height is None or movement.block_height > height):
                continue
            if height is None and at is not None and movement.at > at:
                continue
            total += movement.holdings_delta_sats(scope)
        return total

    def flow_sats(
        self,
        *,
        scope: PolicyScope,
        direction: str,
        since: datetime,
        until: datetime,
        categories: Collection[str] | None = None,
        include_pending: bool = True,
        excluding_subject: tuple[str, str] | None = None,
    ) -> int:
        return sum(
            movement.amount_sats
            for movement, pending in self.movements
            # A pending movement has yet to move: it weighs on every window that reaches past its approval.
            if (movement.at < until if pending else since <= movement.at < until)
            and (include_pending or not pending)
            and movement.direction_for(scope) == direction
            and (categories is None or movement.category in categories)
            and (excluding_subject is None or movement.subject != excluding_subject)
        )

    def exempt_inflows_sats(
        self,
        *,
        scope: PolicyScope,
        since: datetime | None,
        since_height: int | None,
        until: datetime,
        categories: Collection[str],
    ) -> int:
        return sum(
            movement.amount_sats
            for movement in self._booked()
            if movement.direction_for(scope) == "inbound"
            and movement.category in categories
            and movement.at <= until
            and (since is None or movement.at > since)
            and (since_height is None or (movement.block_height or 0) > since_height)
        )

    def encumbered_sats(self, *, scope: PolicyScope) -> int:
        """Approved outflows hold amount and fee until they post; pledges add to that."""
        reserved = sum(
            movement.amount_sats + movement.fee_sats
            for movement, pending in self.movements
            if pending and movement.direction_for(scope) == "outbound"
        )
        return reserved + self.pledged.get(scope, 0)

    def wallet_balance_sats(self, *, wallet_id: int, at: datetime | None = None) -> int:
        return self.holdings_sats(scope=PolicyScope("wallet", wallet_id), at=at)

    def holdings_changes(
        self, *, scope: PolicyScope, since: datetime, until: datetime
    ) -> list[tuple[datetime, int | None, int]]:
        changes = []
        for movement in sorted(self._booked(), key=lambda movement: movement.at):
            if since <= movement.at < until and movement.holdings_delta_sats(scope):
                changes.append((movement.at, movement.block_height, self.holdings_sats(scope=scope, at=movement.at)))
        return changes
