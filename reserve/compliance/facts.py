"""The reserve's answers to the policy engine's questions (`policy.facts.PolicyFacts`).

Holdings come from the ledger (booked balances, as of a time or block height); flows come
from transfers, counting approved-but-unposted ones as pending (inflows of given categories by the
provenance of the lots they move). A scope is the perimeter, one
agency's wallets, or one wallet, and membership is judged at each point by the membership then
in force (`reserve.custody.selectors`): a posting counts for the scopes its wallet belonged to
when it occurred, a transfer for the scopes its wallets belonged to when it moved (posted: the
later of its block time and its approval; pending: its approval). A move from a perimeter wallet
to a wallet outside the perimeter then leaves the perimeter, whatever its direction says.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce, Greatest

from config.errors import NotFound
from ledger.models import Account
from ledger.selectors import (
    Period,
    balance_changes,
    balances_as_of,
    balances_now,
    period_balance,
    period_balance_changes,
)
from policy.types import FiatAmount, FiledReport, LotShare, PolicyScope, provenance_of
from reserve.compliance.lots import lots_taken
from reserve.compliance.models import (
    ENCUMBERING_KINDS,
    PLEDGE_STATUS_FILTERS,
    FiatTotal,
    Lot,
    LotConsumption,
    Pledge,
    PledgeKind,
    PledgeStatus,
)
from reserve.custody.models import Wallet
from reserve.custody.selectors import membership_then, scope_periods
from reserve.pricing.selectors import price_in_force, value_sats
from reserve.transfers.models import Transfer, TransferStatus

ReportsReader = Callable[..., list[FiledReport]]
POSTED_STATUSES = (TransferStatus.CONFIRMED, TransferStatus.FINAL)
RESERVED_STATUSES = (TransferStatus.APPROVED, TransferStatus.BROADCAST)
SIDES = ("source_wallet", "destination_wallet")


def _periods(scope: PolicyScope) -> tuple[list[Account], list[Period]]:
    """The scope's wallets: the accounts inside it for all of their history (answered from the
    ledger's checkpointed balances), and the stretches of the others' histories spent inside it."""
    found = scope_periods(kind=scope.kind, object_id=scope.object_id)
    accounts = {
        wallet.pk: wallet.ledger_account
        for wallet in Wallet.objects.filter(pk__in={period.wallet_id for period in found}).select_related(
            "ledger_account"
        )
    }
    whole = [accounts[period.wallet_id] for period in found if period.effective_from is period.effective_until is None]
    partial = [
        (accounts[period.wallet_id], period.effective_from, period.effective_until)
        for period in found
        if not period.effective_from is period.effective_until is None
    ]
    return whole, partial


def judged(transfers: QuerySet[Transfer]) -> QuerySet[Transfer]:
    """Transfers with the moment their ends' membership is judged at, and that membership."""
    transfers = transfers.annotate(
        judged_at=Case(
            When(status__in=RESERVED_STATUSES, then=F("approved_at")),
            default=Greatest("occurred_at", Coalesce("approved_at", "occurred_at")),
        )
    )
    for side in SIDES:
        transfers = transfers.annotate(
            **{
                f"{side}_perimeter_then": membership_then(wallet=side, when="judged_at", attribute="in_perimeter"),
                f"{side}_agency_then": membership_then(wallet=side, when="judged_at", attribute="agency_id"),
            }
        )
    return transfers


@cache
def _judged_transfers() -> QuerySet[Transfer]:
    """`judged(Transfer.objects.all())`, built once per process: its four membership subqueries
    depend on no argument, and building them was a fifth of a posting gate's CPU (docs/PERFORMANCE.md).
    Never evaluated itself: every use chains a filter, which clones it."""
    return judged(Transfer.objects.all())


def _inside(scope: PolicyScope, side: str) -> Q:
    if scope.kind == "perimeter":
        return Q(**{f"{side}_perimeter_then": True})
    if scope.kind == "agency":
        return Q(**{f"{side}_agency_then": scope.object_id})
    return Q(**{f"{side}_id": scope.object_id})


def _outside(scope: PolicyScope, side: str) -> Q:
    if scope.kind == "perimeter":
        return Q(**{f"{side}__isnull": True}) | Q(**{f"{side}_perimeter_then": False})
    return Q(**{f"{side}__isnull": True}) | ~_inside(scope, side)


def crossing(scope: PolicyScope, direction: str) -> Q:
    """Transfers (annotated by `judged`) that enter (inbound), leave (outbound) or stay within
    (internal) the scope, as their wallets' membership then places them."""
    source_in, destination_in = _inside(scope, "source_wallet"), _inside(scope, "destination_wallet")
    if direction == "inbound":
        return destination_in & _outside(scope, "source_wallet")
    if direction == "outbound":
        return source_in & _outside(scope, "destination_wallet")
    if direction == "internal":
        return source_in & destination_in
    raise ValueError(f"unknown direction {direction!r}")


def _sum(queryset: QuerySet[Transfer], expression: object = None) -> int:
    total = queryset.aggregate(total=Coalesce(Sum(expression or F("amount_sats")), 0))["total"]
    return int(total)


def _lots_sum(lots: QuerySet[Lot]) -> Coalesce:
    """The sum of `lots` (correlated to the outer transfer), 0 when there are none."""
    return Coalesce(Subquery(lots.values("transfer").annotate(total=Sum("amount_sats")).values("total")), 0)


def _active_pledges(scope: PolicyScope, *, at: datetime | None, reserve_wide: bool = False) -> QuerySet[Pledge]:
    """Records in force at `at` (approved at or before it, not released by then; None: now) on a
    wallet the scope holds now (with `reserve_wide`, also those that name no wallet: owed by the
    reserve as a whole)."""
    if scope.kind == "perimeter":
        inside = Q(wallet__in_perimeter=True)
    elif scope.kind == "agency":
        inside = Q(wallet__agency_id=scope.object_id)
    else:
        inside = Q(wallet_id=scope.object_id)
    if reserve_wide:
        inside |= Q(wallet__isnull=True)
    if at is None:
        return Pledge.objects.filter(inside, PLEDGE_STATUS_FILTERS[PledgeStatus.ACTIVE])
    unreleased = Q(released_at__isnull=True) | Q(released_at__gt=at)
    return Pledge.objects.filter(inside, unreleased, approved_at__lte=at)


class ReservePolicyFacts:
    """Stateless: every answer is read from the database at the time it is asked. The reports made
    (for reporting obligations) are read by `reports`, given by the layer that owns them."""

    def __init__(self, *, reports: ReportsReader | None = None) -> None:
        self._reports = reports

    def holdings_sats(self, *, scope: PolicyScope, at: datetime | None = None, height: int | None = None) -> int:
        accounts, partial = _periods(scope)
        total = period_balance(periods=partial, occurred_at=at, block_height=height) if partial else 0
        if not accounts:
            return total
        if at is None and height is None:
            return total + sum(balances_now(accounts=accounts).values())
        if at is not None:
            return total + sum(balances_as_of(accounts=accounts, occurred_at=at).values())
        # A reversal carries its original's height, so a posting the chain dropped cancels out.
        return total + sum(balances_as_of(accounts=accounts, block_height=height).values())

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
        # A posted transfer stands at the later of its block time and its approval, so that an
        # outflow counted while reserved does not drop out of a window once a block stamped
        # earlier confirms it. A reservation has yet to move: it weighs on every window that
        # reaches now, however long ago it was approved.
        when = Q(status__in=POSTED_STATUSES, moved_at__gte=since, moved_at__lt=until)
        if include_pending:
            when |= Q(status__in=RESERVED_STATUSES, approved_at__lt=until)
        transfers = (
            _judged_transfers()
            .annotate(moved_at=Greatest("occurred_at", Coalesce("approved_at", "occurred_at")))
            .filter(crossing(scope, direction) & when)
        )
        if excluding_subject is not None and excluding_subject[0] == "reserve.transfer":
            transfers = transfers.exclude(pk=int(excluding_subject[1]))
        if categories is None:
            return _sum(transfers)
        if direction != "inbound":
            return _sum(transfers.filter(category__in=list(categories)))
        return self._inflow_by_provenance(transfers, list(categories))

    def _inflow_by_provenance(self, transfers: QuerySet[Transfer], categories: list[str]) -> int:
        """Of transfers entering the scope, the sats acquired as `categories`: from outside, as tagged
        (the tag an operator may correct, e.g. to dust); from one of our wallets, posted, by the lots
        its posting made (keeping the provenance of the lots it took) and any part of its amount no
        lot was made for as tagged; approved, not yet posted, by the lots it would take now."""
        total = _sum(transfers.filter(source_wallet__isnull=True, category__in=categories))
        ours = transfers.filter(source_wallet__isnull=False)
        made = Lot.objects.filter(transfer=OuterRef("pk"), journal_transaction=OuterRef("journal_transaction"))
        posted = ours.filter(status__in=POSTED_STATUSES).annotate(
            made_sats=_lots_sum(made), made_in_sats=_lots_sum(made.filter(category__in=categories))
        )
        tagged = Case(When(category__in=categories, then=F("amount_sats") - F("made_sats")), default=0)
        total += _sum(posted, F("made_in_sats") + tagged)
        for transfer in ours.filter(status__in=RESERVED_STATUSES).order_by("pk"):
            assert transfer.source_wallet_id is not None
            lots = self.lots_moved(
                wallet_id=transfer.source_wallet_id,
                sats=transfer.amount_sats + transfer.fee_sats,
                lot_ids=transfer.lot_ids,
            )
            parts = provenance_of(
                lots,
                amount_sats=transfer.amount_sats,
                category=transfer.category,
                reference=transfer.provenance_reference,
            )
            total += sum(part.sats for part in parts if part.category in categories)
        return total

    def exempt_inflows_sats(
        self,
        *,
        scope: PolicyScope,
        since: datetime | None,
        since_height: int | None,
        until: datetime,
        categories: Collection[str],
    ) -> int:
        transfers = _judged_transfers().filter(
            crossing(scope, "inbound"),
            status__in=POSTED_STATUSES,
            category__in=list(categories),
            occurred_at__lte=until,
        )
        if since is not None:
            transfers = transfers.filter(occurred_at__gt=since)
        if since_height is not None:
            transfers = transfers.filter(block_height__gt=since_height)
        return _sum(transfers)

    def encumbered_sats(self, *, scope: PolicyScope, at: datetime | None = None) -> int:
        # Approved outflows hold their amount and fee as a ledger reservation until the chain confirms.
        transfers = _judged_transfers().filter(crossing(scope, "outbound"), status__in=RESERVED_STATUSES)
        pledged = _active_pledges(scope, at=at).filter(kind__in=ENCUMBERING_KINDS)
        return _sum(transfers, F("amount_sats") + F("fee_sats")) + _sum(pledged)  # type: ignore[arg-type]

    def liabilities_sats(self, *, scope: PolicyScope, at: datetime | None = None) -> int:
        return _sum(_active_pledges(scope, at=at, reserve_wide=True).filter(kind=PledgeKind.LIABILITY))  # type: ignore[arg-type]

    def wallet_balance_sats(self, *, wallet_id: int, at: datetime | None = None) -> int:
        wallet = Wallet.objects.select_related("ledger_account").get(pk=wallet_id)
        if at is None:
            return balances_now(accounts=[wallet.ledger_account])[wallet.ledger_account_id]
        return balances_as_of(accounts=[wallet.ledger_account], occurred_at=at)[wallet.ledger_account_id]

    def holdings_changes(
        self, *, scope: PolicyScope, since: datetime, until: datetime
    ) -> list[tuple[datetime, int | None, int]]:
        accounts, partial = _periods(scope)
        if partial:
            whole: list[Period] = [(account, None, None) for account in accounts]
            return period_balance_changes(periods=whole + partial, since=since, until=until)
        if not accounts:
            return []
        return balance_changes(accounts=accounts, since=since, until=until)

    def fiat_value(self, *, sats: int, currency: str, at: datetime) -> FiatAmount | None:
        try:
            quote = price_in_force(currency=currency, at=at)
        except NotFound:
            return None
        return FiatAmount(value_sats(sats=sats, quote=quote), quote.currency, quote.at)

    def fiat_total(self, *, name: str, at: datetime) -> FiatAmount | None:
        total = FiatTotal.objects.filter(name=name, as_of__lte=at).order_by("-as_of", "-id").first()
        return None if total is None else FiatAmount(total.amount, total.currency, total.as_of)

    def reports_filed(
        self, *, kinds: Collection[str], since: datetime, until: datetime, scope: PolicyScope
    ) -> list[FiledReport]:
        # Reports are the proofs layer's, above this one: whoever needs them passes their reader.
        if self._reports is None:
            raise RuntimeError("pass reports=reserve.proofs.filed.reports_filed to read the reports made")
        return self._reports(kinds=kinds, since=since, until=until, scope=scope)

    def lots_moved(
        self, *, wallet_id: int, sats: int, lot_ids: Sequence[int] = (), subject: tuple[str, str] | None = None
    ) -> list[LotShare]:
        if subject is not None and subject[0] == "reserve.transfer":
            taken = (
                LotConsumption.objects.filter(
                    transfer_id=int(subject[1]),
                    lot__wallet_id=wallet_id,
                    restores__isnull=True,
                    restored_by__isnull=True,
                )
                .select_related("lot")
                .order_by("id")
            )
            if taken:
                return [_share(row.lot, row.amount_sats) for row in taken]
        return [_share(take.lot, take.sats) for take in lots_taken(wallet_id=wallet_id, sats=sats, lot_ids=lot_ids)]


def _share(lot: Any, sats: int) -> LotShare:
    return LotShare(lot.pk, sats, lot.acquired_at, lot.category, lot.provenance_reference)
