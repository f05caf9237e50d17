"""The holdings statement a verified proof produces, signed with the service's key.

The statement is a JSON document that carries everything an outsider needs to check it without
the service: the block (height, hash), the challenge message every signature is over, each
address with its method, signature and unspent outputs, each wallet's booked balance against what
its signed addresses hold, the totals, and the books' head. The service's Ed25519 signature is
over its canonical bytes (`statement_bytes`); scripts/verify_statement.py checks it.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.signing import signing_key
from reserve.proofs.models import ReserveProof
from reserve.proofs.selectors import books_head

STATEMENT_FORMAT = "reserve-ledger/holdings-statement/1"


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8. What the service signs and the verifier hashes."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def statement_build(*, proof: ReserveProof, utxos: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The statement of `proof` (not yet saved) with the unspent outputs of each signed address."""
    signatures = {item["address"]: item for item in proof.signatures}
    return {
        "format": STATEMENT_FORMAT,
        "network": proof.network,
        "block": {"height": proof.block_height, "hash": proof.block_hash},
        "challenge": {"id": str(proof.challenge.pk), "message": proof.challenge.message},
        "addresses": [
            {
                "address": row["address"],
                "wallet": row["wallet"],
                "method": row["method"],
                "signature": signatures[row["address"]]["signature"],
                "utxos": utxos[row["address"]],
                "balance_sats": row["balance_sats"],
            }
            for row in proof.addresses
        ],
        "wallets": [
            {
                "wallet": row["wallet"],
                "in_perimeter": row["in_perimeter"],
                "booked_sats": row["balance_sats"],
                "proven_sats": row["signed_sats"],
                "covered": row["covered"],
            }
            for row in proof.wallets
        ],
        "totals": {"proven_sats": proof.signed_total_sats, "perimeter_booked_sats": proof.perimeter_total_sats},
        "covers_perimeter": proof.covers_perimeter,
        "books_head": books_head(),
        "service_key": signing_key().public_hex,
    }


def statement_sign(statement: dict[str, Any]) -> str:
    """The service's Ed25519 signature of the statement, hex."""
    return signing_key().sign(statement_bytes(statement)).hex()
