"""Period attestation of the headline rule: the perimeter's holdings at every block where they
changed, each change classed by the transfer that explains it, and the no-net-accumulation verdict,
signed with the service key. Everything but the classification of inflows is reproducible by
anyone who rescans the period with the published descriptors (scripts/verify_statement.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Max

from config.errors import ValidationFailed
from ledger.signing import signing_key
from reserve.access.roles import require_permission
from reserve.custody.models import Wallet
from reserve.proofs.models import PeriodAttestation
from reserve.proofs.selectors import books_head
from reserve.proofs.statements import statement_sign
from reserve.reconciliation.models import BlockStatus, ChainBlock, UtxoStatus, WalletUtxo
from reserve.transfers.models import Transfer

ATTESTATION_FORMAT = "reserve-ledger/period-attestation/1"
# Inflows a reserve receives without choosing to accumulate: they do not count against the rule.
EXEMPT_CLASSES = ("forfeiture", "involuntary inflow")
TRUST_NOTE = (
    "Holdings, changes and consolidations are reproducible by rescanning the period's blocks with the "
    "published descriptors; the classification of each inflow into the perimeter rests on the service's "
    "signed word."
)


def _class_of(transfer: Transfer | None, delta: int) -> str:
    if transfer is None or transfer.observed:
        return "involuntary inflow" if delta > 0 else "disposal: unproposed"
    category = str(transfer.category)
    if category in ("forfeiture", "civil_penalty"):
        return "forfeiture"
    if category == "mining_reward":
        return "mining"
    if category == "purchase":
        return "purchase"
    if category == "donation":
        return "involuntary inflow"
    if category == "internal_consolidation":
        return "consolidation"
    return f"disposal: {category}" if delta < 0 else category


def period_attestation(*, from_height: int, to_height: int) -> dict[str, Any]:
    """The signed attestation of the perimeter wallets (in the perimeter now) over [from_height, to_height]."""
    if not 0 <= from_height <= to_height:
        raise ValidationFailed.for_field("from_height", "must be a height at or below to_height")
    tip = ChainBlock.objects.filter(network=settings.BITCOIN_NETWORK, status=BlockStatus.ACTIVE).aggregate(
        height=Max("height")
    )["height"]
    if tip is None or to_height > tip:
        raise ValidationFailed.for_field("to_height", f"must be at or below the verified best chain's tip ({tip})")
    wallets = list(
        Wallet.objects.filter(network=settings.BITCOIN_NETWORK, in_perimeter=True)
        .prefetch_related("watched_scripts", "descriptors")
        .order_by("name")
    )
    if not wallets:
        raise ValidationFailed.for_field("wallets", "no wallet is in the perimeter")
    outputs = list(
        WalletUtxo.objects.filter(wallet__in=wallets)
        .exclude(status=UtxoStatus.REORGED)
        .values("txid", "value_sats", "block_height", "spent_height", "spent_by_txid")
    )

    def holdings(height: int) -> int:
        return sum(
            row["value_sats"]
            for row in outputs
            if row["block_height"] <= height and (row["spent_height"] is None or row["spent_height"] > height)
        )

    deltas: dict[int, dict[str, dict[str, int]]] = {}
    for row in outputs:
        if from_height <= row["block_height"] <= to_height:
            entry = deltas.setdefault(row["block_height"], {}).setdefault(row["txid"], {"in": 0, "out": 0})
            entry["in"] += row["value_sats"]
        if row["spent_height"] is not None and from_height <= row["spent_height"] <= to_height:
            entry = deltas.setdefault(row["spent_height"], {}).setdefault(row["spent_by_txid"], {"in": 0, "out": 0})
            entry["out"] += row["value_sats"]
    transfers = {
        transfer.txid: transfer
        for transfer in Transfer.objects.filter(txid__in={t for d in deltas.values() for t in d})
    }
    changes: list[dict[str, Any]] = []
    for height in sorted(deltas):
        moves: list[dict[str, Any]] = []
        for txid, entry in sorted(deltas[height].items()):
            delta = entry["in"] - entry["out"]
            transfer = transfers.get(txid)
            moves.append(
                {
                    "txid": txid,
                    "delta_sats": delta,
                    "class": _class_of(transfer, delta),
                    "transfer_id": transfer.pk if transfer is not None else None,
                }
            )
        changes.append({"height": height, "holdings_sats": holdings(height), "transactions": moves})
    start, end = holdings(from_height - 1), holdings(to_height)
    exempt = sum(
        move["delta_sats"] for change in changes for move in change["transactions"] if move["class"] in EXEMPT_CLASSES
    )
    net = end - start - exempt
    statement = {
        "format": ATTESTATION_FORMAT,
        "network": settings.BITCOIN_NETWORK,
        "period": {"from_height": from_height, "to_height": to_height},
        "wallets": [
            {
                "wallet": wallet.name,
                "birthday_height": wallet.birthday_height,
                "descriptors": [str(d.descriptor) for d in wallet.descriptors.all()]
                + [f"addr({script.address})" for script in wallet.watched_scripts.order_by("address")],
            }
            for wallet in wallets
        ],
        "start_holdings_sats": start,
        "end_holdings_sats": end,
        "changes": changes,
        "exempt_inflows_sats": exempt,
        "net_accumulation_sats": net,
        "verdict": "no net accumulation" if net <= 0 else "net accumulation",
        "rule": "net accumulation = end holdings - start holdings - inflows classed forfeiture or involuntary inflow",
        "trust": TRUST_NOTE,
        "books_head": books_head(),
        "service_key": signing_key().public_hex,
    }
    return {"statement": statement, "signature": statement_sign(statement)}


def period_attestation_create(*, from_height: int, to_height: int, actor: Any) -> PeriodAttestation:
    """Make the signed attestation of [from_height, to_height] and keep it as made (append-only)."""
    require_permission(actor, "add_periodattestation", action="make a period attestation")
    document = period_attestation(from_height=from_height, to_height=to_height)
    statement = document["statement"]
    return PeriodAttestation.objects.create(
        network=statement["network"],
        from_height=from_height,
        to_height=to_height,
        verdict=statement["verdict"],
        net_accumulation_sats=statement["net_accumulation_sats"],
        statement=statement,
        statement_signature=document["signature"],
        created_by=actor,
    )
