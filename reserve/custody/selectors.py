"""Reads of custody wallets: their watched scripts and the outputs they hold."""

from __future__ import annotations

from dataclasses import dataclass

from reserve.custody.models import Wallet, WatchedScript
from reserve.reconciliation.models import ScanCursor, UtxoStatus, WalletUtxo


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
