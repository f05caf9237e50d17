"""Consensus checks on what a node sends: header linkage, proof of work against `bits`, merkle root."""

from __future__ import annotations

from reserve.chain.blocks import BlockHeader, ScannedBlock, hex_to_hash
from reserve.chain.errors import BlockVerificationError
from reserve.chain.merkle import merkle_root
from reserve.chain.networks import Network
from reserve.chain.pow import required_bits, verify_proof_of_work


def verify_header(header: BlockHeader, *, network: Network | str, parent_hash: str | None) -> None:
    """Proof of work, and linkage to `parent_hash` (None: the caller has no parent to check, e.g. genesis)."""
    if parent_hash is not None and header.prev_hash != parent_hash:
        raise BlockVerificationError(
            f"parent is {header.prev_hash}, expected {parent_hash}",
            block_hash=header.hash,
        )
    verify_proof_of_work(header, network=network)


def verify_difficulty(
    header: BlockHeader,
    *,
    network: Network | str,
    height: int,
    parent: BlockHeader,
    period_start: BlockHeader | None = None,
) -> None:
    """The header's `bits` are the ones consensus requires at `height` (see `pow.required_bits`).

    Without this a node could serve a branch mined at a trivial difficulty that still
    meets the bits it claims; the header chain supplies `parent` and, at a retarget
    height, `period_start` (the header 2016 blocks back).
    """
    expected = required_bits(network=network, height=height, parent=parent, period_start=period_start)
    if expected is not None and header.bits != expected:
        raise BlockVerificationError(
            f"bits {header.bits:#010x} at height {height}, consensus requires {expected:#010x}",
            block_hash=header.hash,
        )


def verify_block(block: ScannedBlock, *, network: Network | str, parent_hash: str | None) -> None:
    """Header checks plus the merkle root recomputed from the block's own txids.

    A block that passes has the proof of work of its header and exactly the transactions
    that header commits to; anything else raises `BlockVerificationError` with the reason.
    """
    verify_header(block.header, network=network, parent_hash=parent_hash)
    root, mutated = merkle_root(block.tx_hashes)
    if root != hex_to_hash(block.header.merkle_root):
        raise BlockVerificationError("merkle root does not match the transactions", block_hash=block.hash)
    if mutated:
        raise BlockVerificationError("merkle tree pairs duplicate transactions (CVE-2012-2459)", block_hash=block.hash)
