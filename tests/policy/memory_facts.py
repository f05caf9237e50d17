"""An in-memory PolicyFacts for unit tests: a list of booked and pending movements."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

from policy.types import PolicyScope, ProposedChange


@dataclass
class MemoryFacts:
    movements: list[tuple[ProposedChange, bool]] = field(default_factory=list)  # (movement, pending)
    encumbered: dict[PolicyScope, int] = field(default_factory=dict)

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
            if (include_pending or not pending)
            and since <= movement.at < until
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
        return self.encumbered.get(scope, 0)

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
