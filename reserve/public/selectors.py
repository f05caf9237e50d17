"""What the public transparency page shows, and nothing else: only wallets marked `published`,
their addresses and on-chain holdings (at the latest verified block and at every block where
they changed), the latest signed statement that names nothing unpublished, and the books' head.
No agency, counterparty, transfer, memo or unpublished wallet is read into it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from ledger.signing import signing_key
from reserve.custody.models import Wallet
from reserve.proofs.models import ReserveProof
from reserve.proofs.selectors import books_head, unspent_at
from reserve.reconciliation.models import BlockStatus, ChainBlock, UtxoStatus, WalletUtxo

STATEMENTS_SCANNED = 50


def _published() -> list[Wallet]:
    return list(
        Wallet.objects.filter(published=True, network=settings.BITCOIN_NETWORK)
        .prefetch_related("watched_scripts")
        .order_by("name")
    )


def _history(wallets: list[Wallet]) -> list[dict[str, int]]:
    """The published wallets' total on chain after every block where it changed."""
    changes: dict[int, int] = {}
    rows = (
        WalletUtxo.objects.filter(wallet__in=wallets)
        .exclude(status=UtxoStatus.REORGED)
        .values_list("block_height", "spent_height", "value_sats")
    )
    for created, spent, value in rows:
        changes[created] = changes.get(created, 0) + value
        if spent is not None:
            changes[spent] = changes.get(spent, 0) - value
    total, history = 0, []
    for height in sorted(changes):
        total += changes[height]
        history.append({"height": height, "total_sats": total})
    return history


def publishable_statement(names: set[str], addresses: set[str]) -> ReserveProof | None:
    """The latest proof whose statement names only published wallets and addresses."""
    for proof in ReserveProof.objects.filter(statement__isnull=False).order_by("-created_at", "-id")[
        :STATEMENTS_SCANNED
    ]:
        statement = proof.statement or {}
        named = {row["wallet"] for row in statement.get("wallets", [])}
        named |= {row["wallet"] for row in statement.get("addresses", [])}
        listed = {row["address"] for row in statement.get("addresses", [])}
        if named <= names and listed <= addresses:
            return proof
    return None


def transparency() -> dict[str, Any]:
    wallets = _published()
    tip = (
        ChainBlock.objects.filter(network=settings.BITCOIN_NETWORK, status=BlockStatus.ACTIVE)
        .order_by("-height")
        .values("height", "hash")
        .first()
    )
    held: dict[int, int] = {}
    if tip is not None:
        for wallet_id, value in (
            unspent_at(tip["height"]).filter(wallet__in=wallets).values_list("wallet_id", "value_sats")
        ):
            held[wallet_id] = held.get(wallet_id, 0) + value
    rows: list[dict[str, Any]] = [
        {
            "name": wallet.name,
            "addresses": sorted(script.address for script in wallet.watched_scripts.all()),
            "balance_sats": held.get(wallet.pk, 0),
        }
        for wallet in wallets
    ]
    names = {str(row["name"]) for row in rows}
    addresses = {str(address) for row in rows for address in row["addresses"]}
    proof = publishable_statement(names, addresses)
    key = signing_key().public_hex
    return {
        "network": settings.BITCOIN_NETWORK,
        "block": tip,
        "wallets": rows,
        "total_sats": sum(row["balance_sats"] for row in rows),
        "history": _history(wallets),
        "statement": None
        if proof is None
        else {
            "id": proof.pk,
            "block": {"height": proof.block_height, "hash": proof.block_hash},
            "proven_sats": proof.signed_total_sats,
            "evidence_bundled": proof.evidence is not None,
            # Bundled evidence verifies with no node; without it the verifier fetches it from any node.
            "verify_command": f"python scripts/verify_statement.py statement-{proof.pk}.json --key {key}"
            + ("" if proof.evidence is not None else " --rpc http://USER:PASSWORD@YOUR-NODE:8332"),
        },
        "books_head": books_head(),
        "service_key": key,
    }
