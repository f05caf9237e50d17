"""Merkle proofs (gettxoutproof / BIP37 merkleblock) are checked against the header they carry."""

from __future__ import annotations

import pytest

from reserve.chain.blocks import Watchlist, scan_block
from reserve.chain.errors import MerkleProofError
from reserve.chain.merkle import verify_merkle_proof
from tests.reserve.chain.mainnet import CHAIN_DATA, raw_block

PROOF_300025 = (CHAIN_DATA / "p2p" / "merkle300025.raw").read_bytes()


def test_merkleblock_of_block_300025_proves_two_of_its_transactions():
    # given
    block = scan_block(raw_block("block_300025"), Watchlist())

    # when
    proof = verify_merkle_proof(PROOF_300025, network="mainnet", txid=block.txids[396])

    # then
    assert proof.block_hash == block.hash
    assert proof.total_transactions == block.tx_count == 461
    assert proof.matched_positions == [396, 397]
    assert proof.matched_txids == [block.txids[396], block.txids[397]]


def test_proof_is_accepted_as_hex_too():
    assert verify_merkle_proof(PROOF_300025.hex(), network="mainnet").matched_positions == [396, 397]


def test_proof_for_a_transaction_it_does_not_contain_is_refused():
    # given
    block = scan_block(raw_block("block_300025"), Watchlist())

    # when / then
    with pytest.raises(MerkleProofError, match=f"does not include transaction {block.txids[0]}"):
        verify_merkle_proof(PROOF_300025, network="mainnet", txid=block.txids[0])


def _flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda proof: _flip(proof, 100), "does not hash to the merkle root"),
        (lambda proof: _flip(proof, 0), "insufficient proof of work"),
        (lambda proof: proof[:-1], "length does not match"),
        (lambda proof: proof + b"\x00", "length does not match"),
        (lambda proof: proof[:80], "shorter than a header"),
        (lambda proof: proof[:80] + (0).to_bytes(4, "little") + proof[84:], "without transactions"),
        (lambda proof: proof[:80] + (2).to_bytes(4, "little") + proof[84:], "more hashes than transactions"),
    ],
)
def test_altered_proofs_are_refused_with_the_reason(mangle, reason):
    with pytest.raises(MerkleProofError, match=reason):
        verify_merkle_proof(mangle(PROOF_300025), network="mainnet")
