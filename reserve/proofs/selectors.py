"""Re-verifying a stored proof of reserves: every signature checked again over its challenge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.models import JournalTransaction
from reserve.custody.addresses import parse_address
from reserve.proofs.models import ReserveProof
from reserve.proofs.signatures import verify_message_signature


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
        check = verify_message_signature(address=parsed, message=message, signature=item["signature"])
        checks.append(
            SignatureRecheck(address=parsed.address, method=check.method, valid=check.valid, reason=check.reason)
        )
    return ProofRecheck(valid=bool(checks) and all(check.valid for check in checks), signatures=checks)


def books_head() -> dict[str, Any]:
    """The head of the books a statement names: today the ledger's hash chain head (its last
    journal transaction's sequence and hash). When the transparency log lands, this returns its
    latest signed tree head (`ledger.log.selectors.latest_signed_head()`) instead."""
    head = JournalTransaction.objects.order_by("-sequence").values("sequence", "hash").first()
    if head is None:
        return {"kind": "ledger-hash-chain", "sequence": 0, "hash": ""}
    return {"kind": "ledger-hash-chain", "sequence": int(head["sequence"]), "hash": head["hash"]}
