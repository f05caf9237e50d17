"""Re-verifying a stored proof of reserves: every signature checked again over its challenge."""

from __future__ import annotations

from dataclasses import dataclass

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
