"""The reserve's answers to the policy engine's questions (`policy.facts.PolicyFacts`).

Holdings come from the ledger (booked balances, as of a time or block height); flows come
from transfers, counting approved-but-unposted ones as pending. A scope is the perimeter
(wallets flagged `in_perimeter`), one agency's wallets, or one wallet.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Greatest

from ledger.selectors import balance_changes, balances_as_of, balances_now
from policy.types import PolicyScope
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer, TransferStatus

POSTED_STATUSES = (TransferStatus.CONFIRMED, TransferStatus.FINAL)
RESERVED_STATUSES = (TransferStatus.APPROVED, TransferStatus.BROADCAST)


def scope_wallets(scope: PolicyScope) -> QuerySet[Wallet]:
    if scope.kind == "perimeter":
        return Wallet.objects.filter(in_perimeter=True)
    object_id = int(scope.object_id or 0)  # agency and wallet scopes always carry one
    if scope.kind == "agency":
        return Wallet.objects.filter(agency_id=object_id)
    return Wallet.objects.filter(pk=object_id)


def _inside(scope: PolicyScope, side: str) -> Q:
    if scope.kind == "perimeter":
        return Q(**{f"{side}__in_perimeter": True})
    if scope.kind == "agency":
        return Q(**{f"{side}__agency_id": scope.object_id})
    return Q(**{f"{side}_id": scope.object_id})


def _outside(scope: PolicyScope, side: str) -> Q:
    return Q(**{f"{side}__isnull": True}) | ~_inside(scope, side)


def crossing(scope: PolicyScope, direction: str) -> Q:
    """Transfers that enter (inbound), leave (outbound) or stay within (internal) the scope."""
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


class ReservePolicyFacts:
    """Stateless: every answer is read from the database at the time it is asked."""

    def holdings_sats(self, *, scope: PolicyScope, at: datetime | None = None, height: int | None = None) -> int:
        accounts = [wallet.ledger_account for wallet in scope_wallets(scope).select_related("ledger_account")]
        if not accounts:
            return 0
        if at is None and height is None:
            return sum(balances_now(accounts=accounts).values())
        if at is not None:
            return sum(balances_as_of(accounts=accounts, occurred_at=at).values())
        # A reversal carries its original's height, so a posting the chain dropped cancels out.
        return sum(balances_as_of(accounts=accounts, block_height=height).values())

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
        transfers = Transfer.objects.annotate(
            moved_at=Greatest("occurred_at", Coalesce("approved_at", "occurred_at"))
        ).filter(crossing(scope, direction) & when)
        if categories is not None:
            transfers = transfers.filter(category__in=list(categories))
        if excluding_subject is not None and excluding_subject[0] == "reserve.transfer":
            transfers = transfers.exclude(pk=int(excluding_subject[1]))
        return _sum(transfers)

    def exempt_inflows_sats(
        self,
        *,
        scope: PolicyScope,
        since: datetime | None,
        since_height: int | None,
        until: datetime,
        categories: Collection[str],
    ) -> int:
        transfers = Transfer.objects.filter(
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

    def encumbered_sats(self, *, scope: PolicyScope) -> int:
        # Approved outflows hold their amount and fee as a ledger reservation until the chain confirms.
        transfers = Transfer.objects.filter(crossing(scope, "outbound"), status__in=RESERVED_STATUSES)
        return _sum(transfers, F("amount_sats") + F("fee_sats"))

    def wallet_balance_sats(self, *, wallet_id: int, at: datetime | None = None) -> int:
        wallet = Wallet.objects.select_related("ledger_account").get(pk=wallet_id)
        if at is None:
            return balances_now(accounts=[wallet.ledger_account])[wallet.ledger_account_id]
        return balances_as_of(accounts=[wallet.ledger_account], occurred_at=at)[wallet.ledger_account_id]

    def holdings_changes(
        self, *, scope: PolicyScope, since: datetime, until: datetime
    ) -> list[tuple[datetime, int | None, int]]:
        accounts = [wallet.ledger_account for wallet in scope_wallets(scope).select_related("ledger_account")]
        if not accounts:
            return []
        return balance_changes(accounts=accounts, since=since, until=until)
