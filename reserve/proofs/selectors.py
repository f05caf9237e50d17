"""Re-verifying a stored proof of reserves: every signature checked again over its challenge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from ledger.log.selectors import latest_signed_head
from ledger.models import JournalTransaction
from reserve.custody.addresses import parse_address
from reserve.custody.models import Wallet
from reserve.proofs.bip127 import Output, proof_psbt, verify_bip127
from reserve.proofs.bip322 import Refused, SignatureCheck
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.proofs.signatures import verify_message_signature
from reserve.reconciliation.models import UtxoStatus, WalletUtxo


@dataclass(frozen=True)
class SignatureRecheck:
    address: str
    method: str
    valid: bool
    reason: str


@dataclass(frozen=True)
class ProofRecheck:
    valid: bool
    signatures: list[SignatureRecheck]


def reserve_proof_reverify(*, proof: ReserveProof) -> ProofRecheck:
    """Check each stored signature over the stored challenge text, as an outside verifier would."""
    message = proof.challenge.message
    checks = []
    for item in proof.signatures:
        parsed = parse_address(address=item["address"], network=proof.network)
        if item["method"] == "bip127":
            check = _recheck_wallet_proof(proof, item["signature"])
        else:
            check = verify_message_signature(address=parsed, message=message, signature=item["signature"])
        checks.append(
            SignatureRecheck(address=parsed.address, method=check.method, valid=check.valid, reason=check.reason)
        )
    return ProofRecheck(valid=bool(checks) and all(check.valid for check in checks), signatures=checks)


def _recheck_wallet_proof(proof: ReserveProof, psbt: str) -> SignatureCheck:
    """A BIP-127 PSBT against the outputs the statement lists for the addresses it proves."""
    rows = [row for row in (proof.statement or {}).get("addresses", []) if row["signature"] == psbt]
    outputs = {
        (utxo["txid"], int(utxo["vout"])): Output(
            utxo["txid"],
            int(utxo["vout"]),
            int(utxo["value_sats"]),
            parse_address(address=row["address"], network=proof.network),
        )
        for row in rows
        for utxo in row["utxos"]
    }
    try:
        spent = verify_bip127(psbt=psbt, message=proof.challenge.message, unspent=outputs)
    except Refused as refused:
        return SignatureCheck(False, "bip127", str(refused))
    if len(spent) != len(outputs):
        return SignatureCheck(False, "bip127", "does not spend every output the statement lists")
    return SignatureCheck(True, "bip127", "")


def books_head() -> dict[str, Any]:
    """The head of the books a statement names: the transparency log's latest signed tree head
    (ledger/log/, RFC 9162), which an auditor checks with `scripts/verify_log.py` and the service's
    public key, and through which every journal transaction's inclusion can be proven. Before the
    sealer has signed a first head, the ledger's hash-chain head (its last journal transaction's
    sequence and hash) stands in, and the statement says which it is (`kind`)."""
    head = latest_signed_head()
    if head is not None:
        return {
            "kind": "rfc9162-signed-tree-head",
            "tree_size": head.tree_size,
            "root_hash": head.root_hash,
            "timestamp_ms": head.timestamp_ms,
            "signature": head.signature,
            "key_id": head.key_id,
        }
    chain = JournalTransaction.objects.order_by("-sequence").values("sequence", "hash").first()
    if chain is None:
        return {"kind": "ledger-hash-chain", "sequence": 0, "hash": ""}
    return {"kind": "ledger-hash-chain", "sequence": int(chain["sequence"]), "hash": chain["hash"]}


def unspent_at(height: int) -> QuerySet[WalletUtxo]:
    """Outputs on the active chain at block `height`: created at or below it, not spent by then."""
    return (
        WalletUtxo.objects.filter(block_height__lte=height)
        .exclude(status=UtxoStatus.REORGED)
        .filter(Q(spent_height__isnull=True) | Q(spent_height__gt=height))
        .order_by("block_height", "txid", "vout")
    )


def wallet_outputs_at(*, wallet: Wallet, height: int) -> dict[tuple[str, int], Output]:
    """(txid, vout) -> the wallet's output unspent on the active chain at `height`."""
    held = unspent_at(height).filter(wallet=wallet).values_list("txid", "vout", "value_sats", "script_pubkey")
    addresses = {bytes(script.script_pubkey): script.address for script in wallet.watched_scripts.all()}
    return {
        (txid, int(vout)): Output(
            txid, int(vout), int(value), parse_address(address=addresses[bytes(script)], network=wallet.network)
        )
        for txid, vout, value, script in held
    }


def wallet_proof_psbt(*, challenge: ReserveProofChallenge, wallet: Wallet) -> str:
    """The unsigned BIP-127 PSBT the wallet's cosigners sign to answer `challenge`: every output the
    wallet holds at the challenge's block, after the commitment to its message."""
    height = challenge.block_height if challenge.block_height is not None else 0
    return proof_psbt(message=challenge.message, outputs=list(wallet_outputs_at(wallet=wallet, height=height).values()))
