"""Whether a transfer's source wallet can pay it: amount and fee against the wallet's available
balance (booked, less what approved transfers already hold). One check for the proposal, the
last approval and the preview, so a transfer that can never be approved is refused when proposed."""

from __future__ import annotations

import dataclasses

from config.errors import Conflict
from config.replica import refuse_in_replica_reads
from ledger.models import PendingStatus
from ledger.selectors import balances_now
from policy.types import Decision, RuleLine
from reserve.common.amounts import btc_text
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer, TransferDirection, TransferStatus

# Until approval the transfer holds nothing of its own; from then on its reservation does.
_UNRESERVED = (TransferStatus.DRAFT, TransferStatus.PENDING_APPROVAL)


def wallet_funds_text(wallet: Wallet) -> tuple[int, str]:
    """The wallet's available balance, and in words with what holds the rest: "Wallet cold-01 has
    0.5 BTC available (2 booked, 1.5 held by approved transfer #7)". The one sentence for every
    refusal that a wallet's reservations cause (a transfer's funds check, a resolution's adjustment)."""
    refuse_in_replica_reads("the funds check")
    account = wallet.ledger_account
    booked = balances_now(accounts=[account])[account.pk]
    available = balances_now(accounts=[account], available=True)[account.pk]
    holders = list(
        Transfer.objects.filter(source_wallet=wallet, pending__status=PendingStatus.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    names = ", ".join(f"#{pk}" for pk in holders)
    by = {0: "approved transfers", 1: f"approved transfer {names}"}.get(len(holders), f"approved transfers {names}")
    text = f"Wallet {wallet.name} has {btc_text(available)} BTC available ({btc_text(booked)} booked, "
    return available, text + f"{btc_text(booked - available)} held by {by})"


def transfer_funds_standing(transfer: Transfer) -> tuple[bool, str] | None:
    """Whether the source wallet can pay this transfer, and in words what it has and what the
    transfer needs (shown to approvers next to their decision); None when nothing leaves a wallet
    or the transfer's own reservation already holds it."""
    wallet = transfer.source_wallet
    if transfer.direction == TransferDirection.INBOUND or wallet is None or transfer.status not in _UNRESERVED:
        return None
    available, funds = wallet_funds_text(wallet)
    needed = transfer.amount_sats + transfer.fee_sats
    return needed <= available, (
        f"{funds}; this transfer needs {btc_text(needed)} BTC "
        f"({btc_text(transfer.amount_sats)} plus a fee of {btc_text(transfer.fee_sats)})."
    )


def transfer_funds_shortfall(transfer: Transfer) -> str | None:
    """In words, with the wallet's name, what the source wallet lacks to pay this transfer; None
    when it can pay (or nothing leaves a wallet, or the transfer's own reservation already holds it)."""
    standing = transfer_funds_standing(transfer)
    return None if standing is None or standing[0] else standing[1]


def transfer_funds_check(transfer: Transfer) -> None:
    """Refuse (409, naming amount_sats) a transfer its source wallet cannot pay."""
    shortfall = transfer_funds_shortfall(transfer)
    if shortfall is not None:
        raise Conflict(shortfall, fields={"amount_sats": [shortfall]}, code="insufficient_funds")


def with_funds_line(decision: Decision, transfer: Transfer) -> Decision:
    """The policy's decision with the funds check as one more line: a preview says both."""
    shortfall = transfer_funds_shortfall(transfer)
    if shortfall is None:
        return decision
    line = RuleLine(
        rule_type="available_balance",
        rule_index=-1,
        policy_id=None,
        policy_version=None,
        measured_sats=transfer.amount_sats + transfer.fee_sats,
        limit_sats=None,
        verdict="deny",
        reason=shortfall,
    )
    return dataclasses.replace(decision, outcome="deny", lines=(*decision.lines, line))
