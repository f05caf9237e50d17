"""An in-memory PolicyFacts for unit tests: the movements a ledger and its transfers would hold.

It answers as the reserve's facts (`reserve.policy_facts.ReservePolicyFacts`) do, and
tests/reserve/compliance/test_facts_contract.py holds the two to one contract: a movement is
either booked (on chain at `change.at`, block `change.block_height`) or pending (approved at
`approved_at`, not yet on chain), and a booked one may be reorged away later.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.core.exceptions import ObjectDoesNotExist

from ledger.amounts import SATS_PER_BTC
from policy.types import FiatAmount, FiledReport, LotShare, PolicyScope, ProposedChange, arriving_parts, provenance_of


@dataclass
class Movement:
    change: ProposedChange
    pending: bool
    approved_at: datetime | None
    reorged: bool = False

    @property
    def moved_at(self) -> datetime:
        """Where a flow counts a booked movement: the later of its block time and its approval."""
        return max(self.change.at, self.approved_at or self.change.at)


@dataclass(frozen=True)
class Posting:
    """One journal transaction: a movement booked (sign 1) or its reversal after a reorg (sign -1),
    which keeps the block height of what it reverses."""

    at: datetime
    block_height: int | None
    change: ProposedChange
    sign: int

    def delta_sats(self, scope: PolicyScope) -> int:
        return self.sign * self.change.holdings_delta_sats(scope)


@dataclass
class MemoryLot:
    lot_id: int
    wallet_id: int
    acquired_at: datetime
    sats: int
    category: str
    provenance_reference: str
    left_sats: int

    def share(self, sats: int) -> LotShare:
        return LotShare(self.lot_id, sats, self.acquired_at, self.category, self.provenance_reference)


@dataclass
class MemoryFacts:
    movements: list[Movement] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)  # in posting order
    wallets: set[int] = field(default_factory=set)  # registered wallets; the ones booked to are added
    quotes: list[tuple[datetime, str, Decimal]] = field(default_factory=list)  # (at, currency, price of 1 BTC)
    fiat_totals: list[tuple[str, FiatAmount]] = field(default_factory=list)  # (name, amount as of its date)
    # approved pledges and liabilities: (the scopes holding the wallet, empty = reserve-wide; kind; sats;
    # approved at, None = always; released at, None = never)
    pledges: list[tuple[frozenset[PolicyScope], str, int, datetime | None, datetime | None]] = field(
        default_factory=list
    )
    reports: list[FiledReport] = field(default_factory=list)  # signed reports made
    # the scopes a holdings statement covers, by report id; a statement not listed covers every scope
    report_scopes: dict[int, frozenset[PolicyScope]] = field(default_factory=dict)
    lots: list[MemoryLot] = field(default_factory=list)  # in the order made
    # what each booked movement took and made: change -> ([(lot, sats)], [lots made])
    lot_moves: dict[ProposedChange, tuple[list[tuple[MemoryLot, int]], list[MemoryLot]]] = field(default_factory=dict)

    def book(self, change: ProposedChange, *, pending: bool = False, approved_at: datetime | None = None) -> None:
        """Book `change` as mined at `change.at`, or (`pending`) as approved at `approved_at`
        (default `change.at`) and not yet mined: pending movements weigh on flows and encumber
        their source, but hold nothing."""
        change = replace(change, observed=False, approvals=())
        self.movements.append(Movement(change, pending, approved_at or (change.at if pending else None)))
        self.wallets.update(
            wallet for wallet in (change.source_wallet_id, change.destination_wallet_id) if wallet is not None
        )
        if not pending:
            self.postings.append(Posting(change.at, change.block_height, change, 1))
            self._move_lots(change)

    def _take(self, wallet_id: int, sats: int, lot_ids: Sequence[int]) -> list[tuple[MemoryLot, int]]:
        open_lots = sorted(
            (lot for lot in self.lots if lot.wallet_id == wallet_id and lot.left_sats > 0),
            key=lambda lot: (lot.acquired_at, lot.lot_id),
        )
        named = [lot for lot_id in lot_ids for lot in open_lots if lot.lot_id == lot_id]
        takes, wanted = [], sats
        for lot in named + [lot for lot in open_lots if lot not in named]:
            if wanted <= 0:
                break
            takes.append((lot, min(lot.left_sats, wanted)))
            wanted -= takes[-1][1]
        return takes

    def _move_lots(self, change: ProposedChange) -> None:
        takes: list[tuple[MemoryLot, int]] = []
        if change.direction != "inbound" and change.source_wallet_id is not None:
            takes = self._take(change.source_wallet_id, change.amount_sats + change.fee_sats, change.lot_ids)
            for lot, sats in takes:
                lot.left_sats -= sats
        made: list[MemoryLot] = []
        if change.destination_wallet_id is not None:
            parts = arriving_parts([sats for _, sats in takes], change.amount_sats)
            pieces = [
                (lot.acquired_at, sats, lot.category, lot.provenance_reference)
                for (lot, _), sats in zip(takes, parts, strict=True)
                if sats
            ]
            if change.amount_sats > sum(parts):
                pieces.append(
                    (change.at, change.amount_sats - sum(parts), change.category, change.provenance_reference)
                )
            for acquired_at, sats, category, reference in pieces:
                made.append(
                    MemoryLot(
                        len(self.lots) + 1, change.destination_wallet_id, acquired_at, sats, category, reference, sats
                    )
                )
                self.lots.append(made[-1])
        self.lot_moves[change] = (takes, made)

    def reorg(self, change: ProposedChange, *, at: datetime) -> None:
        """The block of booked `change` left the chain at `at`: its posting is reversed and it
        no longer counts as a flow. Book it again if it is mined again."""
        change = replace(change, observed=False, approvals=())
        movement = next(
            movement
            for movement in self.movements
            if movement.change == change and not movement.pending and not movement.reorged
        )
        movement.reorged = True
        self.postings.append(Posting(at, change.block_height, change, -1))
        takes, made = self.lot_moves.pop(change)
        for lot in made:
            lot.left_sats = 0
        for lot, sats in takes:
            lot.left_sats += sats

    def _booked(self) -> list[Movement]:
        return [movement for movement in self.movements if not movement.pending and not movement.reorged]

    def holdings_sats(self, *, scope: PolicyScope, at: datetime | None = None, height: int | None = None) -> int:
        total = 0
        for posting in self.postings:
            if at is not None and posting.at > at:
                continue
            if at is None and height is not None and (posting.block_height is None or posting.block_height > height):
                continue
            total += posting.delta_sats(scope)
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
        total = 0
        for movement in self.movements:
            change = movement.change
            if (
                movement.reorged
                or change.direction_for(scope) != direction
                or (categories is not None and direction != "inbound" and change.category not in categories)
                or (excluding_subject is not None and change.subject == excluding_subject)
            ):
                continue
            if movement.pending:
                # Yet to move: it weighs on every window that ends after its approval.
                assert movement.approved_at is not None
                counted = include_pending and movement.approved_at < until
            else:
                counted = since <= movement.moved_at < until
            if counted:
                total += self._sats_of(movement, categories if direction == "inbound" else None)
        return total

    def _sats_of(self, movement: Movement, provenance: Collection[str] | None) -> int:
        """What of the movement counts as `provenance` (None: all of it): from outside, as tagged; from
        one of our wallets, what its booking made, as the lots it took were acquired; pending, what
        the lots it would take now bring in."""
        change = movement.change
        if provenance is None:
            return change.amount_sats
        if change.source_wallet_id is None:
            return change.amount_sats if change.category in provenance else 0
        if not movement.pending:
            _, made = self.lot_moves[change]
            return sum(lot.sats for lot in made if lot.category in provenance)
        lots = self.lots_moved(
            wallet_id=change.source_wallet_id, sats=change.amount_sats + change.fee_sats, lot_ids=change.lot_ids
        )
        parts = provenance_of(
            lots, amount_sats=change.amount_sats, category=change.category, reference=change.provenance_reference
        )
        return sum(part.sats for part in parts if part.category in provenance)

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
            movement.change.amount_sats
            for movement in self._booked()
            if movement.change.direction_for(scope) == "inbound"
            and movement.change.category in categories
            and movement.change.at <= until
            and (since is None or movement.change.at > since)
            and (
                since_height is None
                or (movement.change.block_height is not None and movement.change.block_height > since_height)
            )
        )

    def _pledged(self, at: datetime | None) -> list[tuple[frozenset[PolicyScope], str, int]]:
        """The records in force at `at` (None: now, i.e. those not released)."""
        return [
            (scopes, kind, sats)
            for scopes, kind, sats, approved_at, released_at in self.pledges
            if (at is None and released_at is None)
            or (
                at is not None
                and (approved_at is None or approved_at <= at)
                and (released_at is None or at < released_at)
            )
        ]

    def encumbered_sats(self, *, scope: PolicyScope, at: datetime | None = None) -> int:
        # An approved outflow holds its amount and fee until the chain confirms it.
        return sum(
            movement.change.amount_sats + movement.change.fee_sats
            for movement in self.movements
            if movement.pending and movement.change.direction_for(scope) == "outbound"
        ) + sum(sats for scopes, kind, sats in self._pledged(at) if kind != "liability" and scope in scopes)

    def liabilities_sats(self, *, scope: PolicyScope, at: datetime | None = None) -> int:
        pledged = self._pledged(at)
        return sum(sats for scopes, kind, sats in pledged if kind == "liability" and (not scopes or scope in scopes))

    def wallet_balance_sats(self, *, wallet_id: int, at: datetime | None = None) -> int:
        if wallet_id not in self.wallets:
            raise ObjectDoesNotExist(f"wallet {wallet_id} does not exist")
        return self.holdings_sats(scope=PolicyScope("wallet", wallet_id), at=at)

    def holdings_changes(
        self, *, scope: PolicyScope, since: datetime, until: datetime
    ) -> list[tuple[datetime, int | None, int]]:
        running = sum(posting.delta_sats(scope) for posting in self.postings if posting.at < since)
        changes = []
        # Stable: postings at one moment (one block) stay in posting order, each with its own total.
        for posting in sorted(self.postings, key=lambda posting: posting.at):
            delta = posting.delta_sats(scope)
            if since <= posting.at < until and delta:
                running += delta
                changes.append((posting.at, posting.block_height, running))
        return changes

    def fiat_value(self, *, sats: int, currency: str, at: datetime) -> FiatAmount | None:
        in_force = [(quoted, price) for quoted, code, price in self.quotes if code == currency and quoted <= at]
        if not in_force:
            return None
        quoted, price = max(in_force, key=lambda quote: quote[0])
        amount = (Decimal(sats) * price / SATS_PER_BTC).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        return FiatAmount(amount, currency, quoted)

    def fiat_total(self, *, name: str, at: datetime) -> FiatAmount | None:
        recorded = [total for key, total in self.fiat_totals if key == name and total.as_of <= at]
        return max(recorded, key=lambda total: total.as_of) if recorded else None

    def reports_filed(
        self, *, kinds: Collection[str], since: datetime, until: datetime, scope: PolicyScope
    ) -> list[FiledReport]:
        made = [
            report
            for report in self.reports
            if report.kind in kinds
            and since <= report.at <= until
            and (report.kind != "holdings_statement" or scope in self.report_scopes.get(report.report_id, {scope}))
        ]
        return sorted(made, key=lambda report: (report.at, report.kind, report.report_id))

    def lots_moved(
        self, *, wallet_id: int, sats: int, lot_ids: Sequence[int] = (), subject: tuple[str, str] | None = None
    ) -> list[LotShare]:
        for change, (takes, _) in self.lot_moves.items():
            if subject is not None and change.subject == subject and change.source_wallet_id == wallet_id and takes:
                return [lot.share(taken) for lot, taken in takes]
        return [lot.share(taken) for lot, taken in self._take(wallet_id, sats, lot_ids)]
