"""The one way reconciliation gets a block: fetched, parsed once, verified, and returned parsed.

`verified_block` asks the source for the block, scans it once against the watchlist
(`blocks.scan_block`), and checks what the follower must not take on trust: linkage to the
parent it expects, proof of work against `bits`, the `bits` consensus requires on top of the
parent (with the retarget period's first header when the height needs it), and the merkle
root recomputed from the txids. What comes out is a `VerifiedBlock`: the scan's matches, the
offsets of every transaction (booking deserializes only the ones that touch the wallet), and
`rematched` for a watchlist grown after gap extension, which never scans the block again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bitcoin.core import CTransaction

from reserve.chain.blocks import (
    BlockHeader,
    ScannedBlock,
    WatchedOutput,
    Watchlist,
    parse_header,
    rematch,
    scan_block,
)
from reserve.chain.errors import BlockVerificationError
from reserve.chain.pow import RETARGET_INTERVAL
from reserve.chain.source import ChainSource
from reserve.chain.verify import verify_block, verify_difficulty

__all__ = [
    "BlockHeader",
    "BlockRefused",
    "BlockUnlinked",
    "ScannedBlock",
    "VerifiedBlock",
    "WatchedOutput",
    "Watchlist",
    "header_from_bytes",
    "verified_block",
]

# Networks whose difficulty needs no retarget header (regtest never retargets; testnet's
# minimum-difficulty rule is left to the proof-of-work limit, see pow.required_bits).
_NO_RETARGET_HEADER = ("regtest", "testnet")


@dataclass(frozen=True)
class VerifiedBlock(ScannedBlock):
    """A block that passed every check, at `height` of the source's best chain."""

    height: int = -1

    def transaction(self, tx_index: int) -> CTransaction:
        """Transaction `tx_index`, deserialized from its own bytes only."""
        return CTransaction.deserialize(self.tx_bytes(tx_index))

    def rematched(self, watchlist: Watchlist) -> VerifiedBlock:
        """This block's matches against a grown watchlist (outputs, and their spends later in
        the block), from the recorded offsets: the block is not scanned again."""
        block = rematch(self, watchlist)
        assert isinstance(block, VerifiedBlock)
        return block

    def without_bytes(self) -> VerifiedBlock:
        """This block without its serialization, for keeping only its header and counts
        (e.g. in a batch of blocks that touch nothing): no megabytes held per block."""
        return replace(self, raw=b"", tx_offsets=[])


class BlockRefused(BlockVerificationError):
    """The block fails a consensus check; `block` is what was parsed of it, for the record."""

    def __init__(self, error: BlockVerificationError, *, block: ScannedBlock) -> None:
        super().__init__(error.reason, block_hash=error.block_hash)
        self.block = block


class BlockUnlinked(BlockVerificationError):
    """The block's parent is not the block the caller stands on (a reorg, or a node answering
    from two branches); the caller decides which."""

    def __init__(self, *, block: ScannedBlock, expected_parent: str) -> None:
        super().__init__(f"parent is {block.header.prev_hash}, expected {expected_parent}", block_hash=block.hash)
        self.block = block
        self.expected_parent = expected_parent


def header_from_bytes(raw: bytes) -> BlockHeader:
    """A stored 80-byte header, parsed (e.g. the recorded parent of a wallet's next block)."""
    return parse_header(raw)


def _period_start(source: ChainSource, height: int) -> BlockHeader | None:
    if height % RETARGET_INTERVAL or source.network.name in _NO_RETARGET_HEADER:
        return None
    return parse_header(source.raw_block_header(source.block_hash(height - RETARGET_INTERVAL)))


def verified_block(
    source: ChainSource,
    *,
    height: int,
    block_hash: str,
    watchlist: Watchlist,
    parent_hash: str | None,
    parent: BlockHeader | None,
) -> VerifiedBlock:
    """Fetch block `block_hash` (at `height`), scan it once for `watchlist`, and verify it.

    `parent_hash` is the block it must build on (None: a wallet's first block, nothing of ours
    below it); `parent` that block's header when known, for the difficulty check. Raises
    `BlockUnlinked` when it builds on another block, `BlockRefused` when a check fails,
    `MalformedBlock` when the bytes are not a block.
    """
    network = source.network
    scanned = scan_block(source.raw_block(block_hash), watchlist)
    if parent_hash is not None and scanned.header.prev_hash != parent_hash:
        raise BlockUnlinked(block=scanned, expected_parent=parent_hash)
    try:
        verify_block(scanned, network=network, parent_hash=parent_hash)
        if parent is not None:
            verify_difficulty(
                scanned.header,
                network=network,
                height=height,
                parent=parent,
                period_start=_period_start(source, height),
            )
    except BlockVerificationError as error:
        raise BlockRefused(error, block=scanned) from None
    # The same parse, now known good: no copy of the bytes, no second walk.
    return VerifiedBlock(**{name: getattr(scanned, name) for name in _SCANNED_FIELDS}, height=height)


_SCANNED_FIELDS = tuple(ScannedBlock.__dataclass_fields__)
