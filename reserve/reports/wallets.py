"""Custody wallets as auditors see them: booked, available and confirmed balances, and the last reconciliation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery

from ledger.selectors import entries_sum_above_height
from reserve.common.settings import confirmation_depth
from reserve.custody.models import Wallet, WatchedScript
from reserve.reconciliation.models import ReconciliationRun
from reserve.reports.chain_point import chain_tip_height


def wallet_list(*, agency_id: int | None = None, in_perimeter: bool | None = None) -> QuerySet[Wallet]:
    """Wallets with their agency, booked balance and latest reconciliation run id, in constant queries."""
    latest_run = ReconciliationRun.objects.filter(wallet=OuterRef("pk")).order_by("-started_at", "-id").values("pk")[:1]
    wallets = Wallet.objects.select_related("agency", "ledger_account__balance").annotate(
        last_reconciliation_id=Subquery(latest_run)
    )
    if agency_id is not None:
        wallets = wallets.filter(agency_id=agency_id)
    if in_perimeter is not None:
        wallets = wallets.filter(in_perimeter=in_perimeter)
    return wallets.order_by("name")


@dataclass(frozen=True)
class WalletBalances:
    balance_sats: int  # booked, including provisional chain entries
    pending_out_sats: int  # held by approved outflows not yet confirmed
    available_sats: int
    confirmed_sats: int  # booked, without entries from blocks not yet buried `depth` deep
    tip_height: int | None
    confirmation_depth: int


def wallet_balances(*, wallet: Wallet) -> WalletBalances:
    balance = getattr(wallet.ledger_account, "balance", None)
    booked = int(balance.balance_sats) if balance else 0
    pending = int(balance.pending_sats) if balance else 0
    tip, depth = chain_tip_height(), confirmation_depth()
    provisional = 0
    if tip is not None:
        provisional = entries_sum_above_height(account=wallet.ledger_account, height=tip - depth + 1)
    return WalletBalances(
        balance_sats=booked,
        pending_out_sats=pending,
        available_sats=booked - pending,
        confirmed_sats=booked - provisional,
        tip_height=tip,
        confirmation_depth=depth,
    )


def wallet_addresses(*, wallet: Wallet) -> QuerySet[WatchedScript]:
    return wallet.watched_scripts.order_by("descriptor_id", "chain", "index", "pk")


def wallet_last_reconciliation(*, wallet: Wallet) -> ReconciliationRun | None:
    return wallet.reconciliation_runs.order_by("-started_at", "-id").first()
