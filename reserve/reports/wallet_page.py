"""What a wallet's admin page lists: its transactions as scanned (confirmations at the scanned
height, the transfer each books), its coins with their holds (frozen, reserved, immature
coinbase), its lots still held (acquisition, category, provenance), the next receive address, and
its latest reconciliation runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from config.errors import Conflict
from reserve.compliance.lots import lots_report
from reserve.compliance.models import Lot
from reserve.custody.models import Wallet
from reserve.outbox.models import OutboxMessage
from reserve.reconciliation.models import ReconciliationRun, ScanCursor, UtxoStatus, WalletUtxo
from reserve.reconciliation.services import RECONCILE_TASK
from reserve.transfers.coins import live_freezes
from reserve.transfers.models import Transfer, UtxoFreeze, UtxoReservation
from reserve.transfers.psbt_build import coinbase_immature
from reserve.transfers.signing import next_unused_script

TRANSACTION_LIMIT = 50


@dataclass(frozen=True)
class WalletTransaction:
    txid: str
    height: int
    confirmations: int
    received_sats: int
    sent_sats: int
    transfer: Transfer | None


@dataclass(frozen=True)
class WalletCoin:
    utxo: WalletUtxo
    confirmations: int
    frozen: UtxoFreeze | None
    reserved_for: Transfer | None
    immature_coinbase: bool


def scanned_height(wallet: Wallet) -> int:
    """The last block whose effects on the wallet are committed (-1 before the first scan)."""
    cursor = ScanCursor.objects.filter(wallet=wallet).first()
    return cursor.height if cursor is not None else -1


def wallet_transactions(*, wallet: Wallet, limit: int = TRANSACTION_LIMIT) -> list[WalletTransaction]:
    """The latest transactions paying or spending the wallet on the scanned chain, newest first."""
    tip = scanned_height(wallet)
    live = WalletUtxo.objects.filter(wallet=wallet).exclude(status=UtxoStatus.REORGED)
    moves: dict[str, dict[str, int]] = {}
    for txid, height, value in live.values_list("txid", "block_height", "value_sats"):
        move = moves.setdefault(txid, {"height": height, "received": 0, "sent": 0})
        move["received"] += value
    for txid, height, value in live.filter(status=UtxoStatus.SPENT).values_list(
        "spent_by_txid", "spent_in_block__height", "value_sats"
    ):
        move = moves.setdefault(txid, {"height": height, "received": 0, "sent": 0})
        move["sent"] += value
    latest = sorted(moves.items(), key=lambda item: (-item[1]["height"], item[0]))[:limit]
    transfers = {
        transfer.txid: transfer
        for transfer in Transfer.objects.filter(txid__in=[txid for txid, _ in latest]).filter(
            Q(source_wallet=wallet) | Q(destination_wallet=wallet)
        )
    }
    return [
        WalletTransaction(
            txid=txid,
            height=move["height"],
            confirmations=max(tip - move["height"] + 1, 0),
            received_sats=move["received"],
            sent_sats=move["sent"],
            transfer=transfers.get(txid),
        )
        for txid, move in latest
    ]


def wallet_coins(*, wallet: Wallet) -> list[WalletCoin]:
    """The wallet's unspent coins on the scanned chain with every hold on them, largest first."""
    tip = scanned_height(wallet)
    utxos = list(
        WalletUtxo.objects.filter(wallet=wallet, status=UtxoStatus.UNSPENT).order_by("-value_sats", "txid", "vout")
    )
    ids = [utxo.pk for utxo in utxos]
    freezes = {freeze.utxo_id: freeze for freeze in live_freezes().filter(utxo_id__in=ids)}
    reservations = {
        hold.utxo_id: hold.transfer
        for hold in UtxoReservation.objects.filter(utxo_id__in=ids, released_at__isnull=True).select_related("transfer")
    }
    return [
        WalletCoin(
            utxo=utxo,
            confirmations=max(tip - utxo.block_height + 1, 0),
            frozen=freezes.get(utxo.pk),
            reserved_for=reservations.get(utxo.pk),
            immature_coinbase=utxo.coinbase and coinbase_immature(block_height=utxo.block_height, tip_height=tip),
        )
        for utxo in utxos
    ]


def next_receive_address(wallet: Wallet) -> str | None:
    """The first derived receive address nothing paid yet (None: single addresses only, or the gap is used up)."""
    try:
        return next_unused_script(wallet, chain=0).address
    except Conflict:
        return None


def reconcile_requests(*, wallet: Wallet, limit: int = 3) -> list[OutboxMessage]:
    """The latest "Reconcile now" requests for the wallet, with whether they reached the broker."""
    return list(
        OutboxMessage.objects.filter(task_name=RECONCILE_TASK, args=[wallet.pk]).order_by("-created_at", "-id")[:limit]
    )


def latest_runs(*, wallet: Wallet, limit: int = 5) -> list[ReconciliationRun]:
    return list(ReconciliationRun.objects.filter(wallet=wallet).order_by("-started_at", "-id")[:limit])


def wallet_lots(*, wallet: Wallet) -> list[Lot]:
    """The wallet's lots with something left, oldest first: what it holds, by acquisition."""
    return list(lots_report(held=True).filter(wallet=wallet))


def wallet_page(wallet: Wallet) -> dict[str, Any]:
    """Everything the wallet page's panel shows, for its template."""
    return {
        "scanned_height": scanned_height(wallet),
        "checked_at": ScanCursor.objects.filter(wallet=wallet).values_list("checked_at", flat=True).first(),
        "transactions": wallet_transactions(wallet=wallet),
        "coins": wallet_coins(wallet=wallet),
        "lots": wallet_lots(wallet=wallet),
        "receive_address": next_receive_address(wallet),
        "reconcile_requests": reconcile_requests(wallet=wallet),
        "runs": latest_runs(wallet=wallet),
    }
