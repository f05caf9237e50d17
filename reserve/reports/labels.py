"""BIP-329 wallet labels: the custody wallets' keys, addresses and transactions as JSON Lines records.

Record types used: `xpub` (each extended key of a wallet's descriptors), `addr` (each watched
address, with its derivation path and the abbreviated descriptor of its key as `origin`),
`tx` (each transaction that carries a transfer) and `output` (the output of an inbound
transfer that landed in one of our wallets). Operators may import labels for these same records
(`labels_import.py`); an imported label replaces the service's.

No label carries a private key: the write guard (reserve/common/free_text.py) keeps keys out of
names and references, and a label that still holds one (stored before that guard) is exported
as WITHHELD rather than copied into a file that leaves the service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet

from ledger.secrets import private_key_in
from reserve.custody.models import Wallet, WalletLabel, WatchedScript
from reserve.transfers.coins import live_freezes
from reserve.transfers.models import Transfer, TransferDirection

_EXTENDED_KEY = re.compile(r"[tuvxyzUVYZ]pub[1-9A-HJ-NP-Za-km-z]{100,112}")
_ORIGIN = re.compile(r"^((?:[a-z]+\()+)\[([0-9a-fA-F]{8}(?:/[0-9]+[hH']?)*)\]")


def _origin(descriptor: str) -> str | None:
    """ "wpkh([73c5da0a/84h/1h/0h])" for a single-key descriptor with key origin; None otherwise."""
    if "multi" in descriptor:
        return None
    match = _ORIGIN.match(descriptor)
    if match is None:
        return None
    wrappers = match.group(1)
    return f"{wrappers}[{match.group(2)}]" + ")" * wrappers.count("(")


def _transfer_label(transfer: Transfer) -> str:
    label = f"Transfer #{transfer.pk}: {transfer.direction} {transfer.category}"
    if transfer.provenance_reference:
        label += f" ({transfer.provenance_reference})"
    return label


WITHHELD = "[label withheld: it contains private key material]"


def labels_export(*, wallets: QuerySet[Wallet]) -> Iterator[dict[str, Any]]:
    """Every label record for `wallets`, in a stable order; streamed, a bounded number of queries.
    A label an operator imported (`labels_import.py`) replaces the one the service writes."""
    imported: dict[tuple[str, str], list[str]] = {}
    for row in WalletLabel.objects.filter(wallet__in=wallets).order_by("wallet_id", "pk"):
        imported.setdefault((row.type, row.ref), []).append(row.label)
    for record in _records(wallets=wallets):
        if (record["type"], record["ref"]) in imported:
            record["label"] = "; ".join(dict.fromkeys(imported[(record["type"], record["ref"])]))
        if private_key_in(record["label"], hex32=False):
            record["label"] = WITHHELD
        yield record


def _records(*, wallets: QuerySet[Wallet]) -> Iterator[dict[str, Any]]:
    chosen = wallets.order_by("pk")
    for wallet in chosen.prefetch_related("descriptors"):
        for descriptor in sorted(wallet.descriptors.all(), key=lambda row: row.pk):
            for key in dict.fromkeys(_EXTENDED_KEY.findall(descriptor.descriptor)):
                yield {"type": "xpub", "ref": key, "label": wallet.name}
    scripts = (
        WatchedScript.objects.filter(wallet__in=chosen)
        .select_related("wallet", "descriptor")
        .order_by("wallet_id", "descriptor_id", "chain", "index", "pk")
    )
    for script in scripts.iterator(chunk_size=2000):
        record: dict[str, Any] = {"type": "addr", "ref": script.address, "label": script.wallet.name}
        if script.derivation_path:
            record["label"] = f"{script.wallet.name} {script.derivation_path}"
        origin = _origin(script.descriptor.descriptor) if script.descriptor is not None else None
        if origin:
            record["origin"] = origin
        yield record
    transfers = (
        Transfer.objects.filter(Q(source_wallet__in=chosen) | Q(destination_wallet__in=chosen))
        .exclude(txid="")
        .order_by("txid", "pk")
    )
    labels: dict[str, list[str]] = {}
    outputs: list[tuple[str, str]] = []
    for transfer in transfers.iterator(chunk_size=2000):
        labels.setdefault(transfer.txid, []).append(_transfer_label(transfer))
        if transfer.direction != TransferDirection.OUTBOUND and transfer.vout is not None:
            outputs.append((f"{transfer.txid}:{transfer.vout}", _transfer_label(transfer)))
    for txid, texts in labels.items():
        yield {"type": "tx", "ref": txid, "label": "; ".join(texts)}
    # A frozen coin is exported not spendable, as a wallet importing the file should keep it.
    frozen = {
        f"{txid}:{vout}"
        for txid, vout in live_freezes().filter(utxo__wallet__in=chosen).values_list("utxo__txid", "utxo__vout")
    }
    for ref, text in outputs:
        yield {"type": "output", "ref": ref, "label": text, "spendable": ref not in frozen}
