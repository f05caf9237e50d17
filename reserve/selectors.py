"""Reads of the treasury domain for the admin, the API, reports and the scanner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from config.errors import NotFound, ValidationFailed
from ledger.models import AccountBalance
from ledger.selectors import balances_as_of
from policy.selectors import policy_evaluate
from policy.types import Decision
from reserve.models import (
    ApprovalDecision,
    AuditEvent,
    ScanCursor,
    Transfer,
    UtxoStatus,
    Wallet,
    WalletUtxo,
    WatchedScript,
)
from reserve.policy_facts import ReservePolicyFacts
from reserve.roles import user_roles
from reserve.services.transfers import transfer_change
from reserve.valuation import value_sats_at


@dataclass(frozen=True)
class WalletHolding:
    wallet_id: int
    wallet_name: str
    agency_id: int
    agency_name: str
    in_perimeter: bool
    balance_sats: int
    fiat_value: Decimal | None


@dataclass(frozen=True)
class Holdings:
    wallets: list[WalletHolding]
    by_agency: dict[str, int]
    perimeter_sats: int
    total_sats: int
    currency: str
    perimeter_fiat_value: Decimal | None


def holdings_as_of(
    *,
    at: datetime | None = None,
    block_height: int | None = None,
    currency: str = "",
    wallets: QuerySet[Wallet] | None = None,
) -> Holdings:
    """Booked holdings per wallet and agency, as of a time, a block height, or now (both None).

    With `currency`, each wallet and the perimeter are valued at the quote in force at `at`
    (or now); the value is None when no quote is in force.
    """
    if at is not None and block_height is not None:
        raise ValidationFailed.for_field("as_of", "give a time or a block height, not both")
    rows = list((wallets if wallets is not None else Wallet.objects.all()).select_related("agency", "ledger_account"))
    accounts = [wallet.ledger_account for wallet in rows]
    if at is not None:
        balances = balances_as_of(accounts=accounts, occurred_at=at)
    elif block_height is not None:
        balances = balances_as_of(accounts=accounts, block_height=block_height)
    else:
        balances = dict(AccountBalance.objects.filter(account__in=accounts).values_list("account_id", "balance_sats"))

    def fiat(sats: int) -> Decimal | None:
        if not currency or block_height is not None:
            return None
        try:
            return value_sats_at(sats=sats, currency=currency, at=at or timezone.now())
        except NotFound:
            return None

    holdings = [
        WalletHolding(
            wallet_id=wallet.pk,
            wallet_name=wallet.name,
            agency_id=wallet.agency_id,
            agency_name=wallet.agency.name,
            in_perimeter=wallet.in_perimeter,
            balance_sats=int(balances.get(wallet.ledger_account_id, 0)),
            fiat_value=fiat(int(balances.get(wallet.ledger_account_id, 0))),
        )
        for wallet in rows
    ]
    by_agency: dict[str, int] = {}
    for holding in holdings:
        by_agency[holding.agency_name] = by_agency.get(holding.agency_name, 0) + holding.balance_sats
    perimeter = sum(holding.balance_sats for holding in holdings if holding.in_perimeter)
    return Holdings(
        wallets=holdings,
        by_agency=by_agency,
        perimeter_sats=perimeter,
        total_sats=sum(holding.balance_sats for holding in holdings),
        currency=currency,
        perimeter_fiat_value=fiat(perimeter),
    )


def transfer_list(
    *,
    status: str | None = None,
    direction: str | None = None,
    category: str | None = None,
    wallet: Wallet | None = None,
    agency_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Transfer]:
    """The transfer register, newest first, filtered; times filter on `occurred_at`."""
    transfers = Transfer.objects.select_related("source_wallet", "destination_wallet", "counterparty", "proposer")
    if status:
        transfers = transfers.filter(status=status)
    if direction:
        transfers = transfers.filter(direction=direction)
    if category:
        transfers = transfers.filter(category=category)
    if wallet is not None:
        transfers = transfers.filter(source_wallet=wallet) | transfers.filter(destination_wallet=wallet)
    if agency_id is not None:
        transfers = transfers.filter(source_wallet__agency_id=agency_id) | transfers.filter(
            destination_wallet__agency_id=agency_id
        )
    if since is not None:
        transfers = transfers.filter(occurred_at__gte=since)
    if until is not None:
        transfers = transfers.filter(occurred_at__lt=until)
    return transfers.order_by("-id")


@dataclass(frozen=True)
class QuorumProgress:
    approvals: int
    required: int
    role: str
    approvers: list[str]
    rejected_by: str | None


def transfer_quorum_progress(*, transfer: Transfer) -> QuorumProgress:
    """Approvals that count (from holders of the required role) against the quorum stored at proposal."""
    decisions = list(transfer.approvals.select_related("approver"))
    counted = [
        approval.approver.get_username()
        for approval in decisions
        if approval.decision == ApprovalDecision.APPROVE and transfer.required_role in user_roles(approval.approver)
    ]
    rejected = next((a.approver.get_username() for a in decisions if a.decision == ApprovalDecision.REJECT), None)
    return QuorumProgress(
        approvals=len(counted),
        required=transfer.required_approvals,
        role=transfer.required_role,
        approvers=counted,
        rejected_by=rejected,
    )


def transfer_policy_preview(*, transfer: Transfer) -> Decision:
    """What the policy would decide on this transfer now (a dry run: nothing is stored or locked)."""
    return policy_evaluate(change=transfer_change(transfer), facts=ReservePolicyFacts())


def audit_trail(*, object_type: str | None = None, object_id: str | None = None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor")
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    return events.order_by("-id")


def watched_scripts(*, network: str) -> dict[bytes, int]:
    """scriptPubKey -> wallet id for every script watched on `network` (the scanner's lookup table)."""
    rows = WatchedScript.objects.filter(wallet__network=network).values_list("script_pubkey", "wallet_id")
    return {bytes(script): wallet_id for script, wallet_id in rows}


@dataclass(frozen=True)
class WalletOutput:
    """An unspent output of a wallet, with its confirmations at the block the wallet is scanned to."""

    txid: str
    vout: int
    value_sats: int
    block_height: int
    confirmations: int


def wallet_utxos(*, wallet: Wallet) -> list[WalletOutput]:
    """The wallet's unspent outputs on the best chain, oldest first."""
    scanned = ScanCursor.objects.filter(wallet=wallet).values_list("height", flat=True).first()
    tip = -1 if scanned is None else scanned
    rows = (
        WalletUtxo.objects.filter(wallet=wallet, status=UtxoStatus.UNSPENT)
        .order_by("block_height", "txid", "vout")
        .values_list("txid", "vout", "value_sats", "block_height")
    )
    return [
        WalletOutput(txid, vout, value_sats, block_height, max(tip - block_height + 1, 0))
        for txid, vout, value_sats, block_height in rows
    ]
