"""Merkle trees of txids: the block's root, and BIP37 partial trees (gettxoutproof / merkleblock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from reserve.chain.blocks import HEADER_SIZE, BlockHeader, hash_to_hex, hex_to_hash, parse_header, sha256d
from reserve.chain.errors import BlockVerificationError, MerkleProofError
from reserve.chain.networks import Network
from reserve.chain.pow import verify_proof_of_work

# Bitcoin Core bounds a partial tree by the most transactions a block can hold
# (MAX_BLOCK_WEIGHT / MIN_TRANSACTION_WEIGHT).
MAX_BLOCK_TRANSACTIONS = 4_000_000 // 240


def merkle_root(tx_hashes: Sequence[bytes]) -> tuple[bytes, bool]:
    """Root over txids in internal byte order, and whether the tree is "mutated".

    Mutated (CVE-2012-2459): two equal hashes paired at some level, the trick that lets a
    block with duplicated transactions share the root of the valid block.
    """
    if not tx_hashes:
        raise ValueError("a merkle tree needs at least one hash")
    level = list(tx_hashes)
    mutated = False
    while len(level) > 1:
        if not mutated:
            mutated = any(map(bytes.__eq__, level[0::2], level[1::2]))
        if len(level) % 2:
            level.append(level[-1])
        level = [
            sha256(sha256(left + right).digest()).digest() for left, right in zip(level[0::2], level[1::2], strict=True)
        ]
    return level[0], mutated


@dataclass(frozen=True)
class MerkleProof:
    """A verified proof: the block header and the txids it proves, with their positions in the block."""

    header: BlockHeader
    total_transactions: int
    matched_txids: list[str]
    matched_positions: list[int]

    @property
    def block_hash(self) -> str:
        return self.header.hash


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    if offset >= len(data):
        raise MerkleProofError("truncated merkle proof")
    prefix = data[offset]
    if prefix < 0xFD:
        return prefix, offset + 1
    width = 2 if prefix == 0xFD else 4 if prefix == 0xFE else 8
    end = offset + 1 + width
    if end > len(data):
        raise MerkleProofError("truncated merkle proof")
    return int.from_bytes(data[offset + 1 : end], "little"), end


def _extract_matches(total: int, hashes: list[bytes], flag_bytes: bytes) -> tuple[bytes, list[bytes], list[int]]:
    """Walk the partial tree depth-first as Bitcoin Core's CPartialMerkleTree does; return the root and matches."""
    if total == 0:
        raise MerkleProofError("merkle proof claims a block without transactions")
    if total > MAX_BLOCK_TRANSACTIONS:
        raise MerkleProofError(f"merkle proof claims {total} transactions, more than a block can hold")
    if len(hashes) > total:
        raise MerkleProofError("merkle proof has more hashes than transactions")
    bit_count = len(flag_bytes) * 8
    if bit_count < len(hashes):
        raise MerkleProofError("merkle proof has fewer flag bits than hashes")

    def width(height: int) -> int:
        return (total + (1 << height) - 1) >> height

    height = 0
    while width(height) > 1:
        height += 1

    bits_used = 0
    hashes_used = 0
    matched_hashes: list[bytes] = []
    matched_positions: list[int] = []

    def traverse(level: int, position: int) -> bytes:
        nonlocal bits_used, hashes_used
        if bits_used >= bit_count:
            raise MerkleProofError("merkle proof runs out of flag bits")
        flag = (flag_bytes[bits_used >> 3] >> (bits_used & 7)) & 1
        bits_used += 1
        if level == 0 or not flag:
            if hashes_used >= len(hashes):
                raise MerkleProofError("merkle proof runs out of hashes")
            node = hashes[hashes_used]
            hashes_used += 1
            if level == 0 and flag:
                matched_hashes.append(node)
                matched_positions.append(position)
            return node
        left = traverse(level - 1, position * 2)
        if position * 2 + 1 < width(level - 1):
            right = traverse(level - 1, position * 2 + 1)
            if right == left:
                raise MerkleProofError("merkle proof pairs two equal hashes (CVE-2012-2459)")
        else:
            right = left
        return sha256d(left + right)

    root = traverse(height, 0)
    if (bits_used + 7) // 8 != len(flag_bytes):
        raise MerkleProofError("merkle proof has unused flag bytes")
    if hashes_used != len(hashes):
        raise MerkleProofError("merkle proof has unused hashes")
    return root, matched_hashes, matched_positions


def verify_merkle_proof(proof: bytes | str, *, network: Network | str, txid: str | None = None) -> MerkleProof:
    """Check a serialized CMerkleBlock (what `gettxoutproof` returns, as bytes or hex).

    Checks the header's proof of work, that the partial tree is well formed and hashes to
    the header's merkle root, and, when `txid` is given, that it is among the matches.
    Linking the header to the best chain is the caller's business (compare `block_hash`).
    """
    data = bytes.fromhex(proof) if isinstance(proof, str) else bytes(proof)
    if len(data) < HEADER_SIZE + 4:
        raise MerkleProofError("merkle proof shorter than a header and a transaction count")
    header = parse_header(data)
    try:
        verify_proof_of_work(header, network=network)
    except BlockVerificationError as error:
        raise MerkleProofError(f"merkle proof header: {error.reason}") from error
    offset = HEADER_SIZE
    total = int.from_bytes(data[offset : offset + 4], "little")
    offset += 4
    hash_count, offset = _read_varint(data, offset)
    if offset + 32 * hash_count > len(data):
        raise MerkleProofError("truncated merkle proof")
    hashes = [data[offset + 32 * index : offset + 32 * index + 32] for index in range(hash_count)]
    offset += 32 * hash_count
    flag_length, offset = _read_varint(data, offset)
    if offset + flag_length != len(data):
        raise MerkleProofError("merkle proof length does not match its flag bytes")
    flag_bytes = data[offset : offset + flag_length]

    root, matched_hashes, positions = _extract_matches(total, hashes, flag_bytes)
    if root != hex_to_hash(header.merkle_root):
        raise MerkleProofError(f"merkle proof does not hash to the merkle root of block {header.hash}")
    matched_txids = [hash_to_hex(matched) for matched in matched_hashes]
    if txid is not None and txid not in matched_txids:
        raise MerkleProofError(f"merkle proof does not include transaction {txid}")
    return MerkleProof(
        header=header,
        total_transactions=total,
        matched_txids=matched_txids,
        matched_positions=positions,
    )
