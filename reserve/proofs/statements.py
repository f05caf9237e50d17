"""The holdings statement a verified proof produces, signed with the service's key.

The statement is a JSON document that carries everything an outsider needs to check it without
the service: the block (height, hash), the challenge message every signature is over, each
address with its method, signature and unspent outputs, each wallet's booked balance against what
its signed addresses hold, the totals, and the books' head. The service's Ed25519 signature is
over its canonical bytes (`statement_bytes`); scripts/verify_statement.py checks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from io import BytesIO
from typing import Any

from embit import compact
from embit.transaction import Transaction

from config.errors import ValidationFailed
from ledger.signing import signature_valid, signing_key
from reserve.chain.errors import ChainError
from reserve.chain.rpc import RpcChainSource
from reserve.proofs.models import ReserveProof
from reserve.proofs.selectors import books_head
from reserve.reconciliation.models import BlockStatus, ChainBlock

STATEMENT_FORMAT = "reserve-ledger/holdings-statement/1"


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8. What the service signs and the verifier hashes."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def statement_build(
    *, proof: ReserveProof, utxos: dict[str, list[dict[str, Any]]], evidence_note: dict[str, Any]
) -> dict[str, Any]:
    """The statement of `proof` (not yet saved) with the unspent outputs of each signed address, and
    whether its chain evidence is bundled (else why not: the verifier then fetches it with --rpc)."""
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
        "evidence": evidence_note,
    }


def statement_sign(statement: dict[str, Any]) -> str:
    """The service's Ed25519 signature of the statement, hex."""
    return signing_key().sign(statement_bytes(statement)).hex()


def statement_signature_valid(statement: dict[str, Any], signature_hex: str) -> bool:
    """Whether `signature_hex` is the service key's signature of `statement`: a row written
    around the service (raw SQL as its role) does not pass for a statement it made."""
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    return signature_valid(signing_key().public_bytes, statement_bytes(statement), signature)


def _raw_transaction(raw_block: bytes, txid: str) -> bytes:
    stream = BytesIO(raw_block)
    stream.seek(80)
    for _ in range(compact.read_from(stream)):
        transaction = Transaction.read_from(stream)
        if transaction.txid().hex() == txid:
            return transaction.serialize()
    raise ValidationFailed.for_field("utxos", f"transaction {txid} is not in its block")


def statement_evidence(
    *, network: str, block_height: int, block_hash: str, utxos: list[dict[str, Any]], source: RpcChainSource
) -> dict[str, Any]:
    """What an offline verifier needs beside the statement, from a node: every header of our verified
    chain from the oldest output's block to the stated block, and for each output's transaction its
    raw bytes and merkle branch (`gettxoutproof`). Unsigned: the verifier checks it by itself."""
    first = min((int(utxo["block_height"]) for utxo in utxos), default=block_height)
    hashes = dict(
        ChainBlock.objects.filter(
            network=network, status=BlockStatus.ACTIVE, height__range=(first, block_height)
        ).values_list("height", "hash")
    )
    if len(hashes) != block_height - first + 1 or hashes.get(block_height) != block_hash:
        raise ValidationFailed.for_field(
            "block", f"the verified chain from {first} to block {block_hash} is not on the best chain now"
        )
    blocks: dict[str, bytes] = {}
    transactions: dict[str, dict[str, str]] = {}
    for utxo in utxos:
        txid, in_block = utxo["txid"], hashes[int(utxo["block_height"])]
        if txid not in transactions:
            if in_block not in blocks:
                blocks[in_block] = source.raw_block(in_block)
            transactions[txid] = {
                "raw": _raw_transaction(blocks[in_block], txid).hex(),
                "merkle_proof": source.txout_proof([txid], in_block).hex(),
            }
    return {
        "first_height": first,
        "headers": [source.raw_block_header(hashes[height]).hex() for height in range(first, block_height + 1)],
        "transactions": transactions,
    }


def statement_evidence_gather(
    *,
    network: str,
    block_height: int,
    block_hash: str,
    utxos: list[dict[str, Any]],
    source: Callable[[], RpcChainSource] | None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the evidence or None, the statement's note on it) from the node `source` opens (the one the
    reconciliation follows): when it cannot give it, the statement says why, and the verifier
    fetches the evidence from any node (--rpc)."""
    if source is None:
        return None, {"bundled": False, "reason": "no node was at hand when the statement was made"}
    try:
        with source() as node:
            evidence = statement_evidence(
                network=network, block_height=block_height, block_hash=block_hash, utxos=utxos, source=node
            )
    except (ChainError, ValidationFailed) as error:
        return None, {
            "bundled": False,
            "reason": f"the node could not give it when the statement was made: {error.message}",
        }
    return evidence, {"bundled": True}


def statement_document(*, proof: ReserveProof, source: RpcChainSource | None = None) -> dict[str, Any]:
    """The file an outsider downloads: the statement, the service's signature, and the evidence bundled
    when the statement was made (else, given a node, fetched now)."""
    if proof.statement is None:
        raise ValidationFailed.for_field("proof", "was made before proofs produced statements")
    document: dict[str, Any] = {"statement": proof.statement, "signature": proof.statement_signature}
    if proof.evidence is not None:
        document["evidence"] = proof.evidence
    elif source is not None:
        document["evidence"] = statement_evidence(
            network=proof.network,
            block_height=proof.block_height,
            block_hash=proof.block_hash,
            utxos=[utxo for row in proof.statement["addresses"] for utxo in row["utxos"]],
            source=source,
        )
    return document
