"""Raw block scanner: header, txids, outputs paying watched scripts, inputs spending tracked outputs.

It walks the consensus serialization by offset and creates objects only for what it
returns (one txid per transaction, one tuple per match), which keeps it several times
faster than deserializing every transaction (see docs/PERFORMANCE.md, "Block scanning").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from hashlib import sha256
from typing import NamedTuple

from reserve.chain.errors import MalformedBlock

HEADER_SIZE = 80


def sha256d(data: bytes | memoryview) -> bytes:
    return sha256(sha256(data).digest()).digest()


def hash_to_hex(hash_bytes: bytes) -> str:
    """Internal byte order (as serialized and hashed) to the reversed hex that RPC and explorers show."""
    return hash_bytes[::-1].hex()


def hex_to_hash(hex_hash: str) -> bytes:
    """Displayed (RPC) hex to internal byte order."""
    hash_bytes = bytes.fromhex(hex_hash)
    if len(hash_bytes) != 32:
        raise ValueError(f"a hash is 32 bytes, got {len(hash_bytes)}: {hex_hash!r}")
    return hash_bytes[::-1]


class Outpoint(NamedTuple):
    """A transaction output by reference: txid (displayed hex) and output index."""

    txid: str
    vout: int

    def key(self) -> bytes:
        """The 36 bytes a spending input serializes for this outpoint."""
        return hex_to_hash(self.txid) + self.vout.to_bytes(4, "little")

    @classmethod
    def from_key(cls, key: bytes) -> Outpoint:
        return cls(hash_to_hex(key[:32]), int.from_bytes(key[32:36], "little"))


class WatchedOutput(NamedTuple):
    """An output of the block that pays a watched script."""

    txid: str
    vout: int
    value_sats: int
    script: bytes
    tx_index: int

    @property
    def outpoint(self) -> Outpoint:
        return Outpoint(self.txid, self.vout)


class TrackedSpend(NamedTuple):
    """An input of the block that spends a tracked outpoint (or one created earlier in the block)."""

    txid: str
    vin: int
    spent: Outpoint
    tx_index: int


@dataclass(frozen=True)
class BlockHeader:
    raw: bytes
    hash: str
    version: int
    prev_hash: str
    merkle_root: str
    time: int
    bits: int
    nonce: int


def parse_header(raw: bytes) -> BlockHeader:
    """Parse the 80-byte block header (the first 80 bytes of a block are accepted too)."""
    if len(raw) < HEADER_SIZE:
        raise MalformedBlock(f"a block header is {HEADER_SIZE} bytes, got {len(raw)}")
    header = bytes(raw[:HEADER_SIZE])
    return BlockHeader(
        raw=header,
        hash=hash_to_hex(sha256d(header)),
        version=int.from_bytes(header[0:4], "little", signed=True),
        prev_hash=hash_to_hex(header[4:36]),
        merkle_root=hash_to_hex(header[36:68]),
        time=int.from_bytes(header[68:72], "little"),
        bits=int.from_bytes(header[72:76], "little"),
        nonce=int.from_bytes(header[76:80], "little"),
    )


class Watchlist:
    """What a scan looks for: scriptPubKeys (bytes) and outpoints whose spending matters.

    Built once and updated between blocks (`apply`), so a scan never converts the whole
    set; outputs found in a block are tracked for the following blocks.
    """

    def __init__(self, scripts: Iterable[bytes] = (), outpoints: Iterable[tuple[str, int]] = ()) -> None:
        self._scripts: set[bytes] = set()
        self._script_lengths: set[int] = set()
        self._outpoint_keys: set[bytes] = set()
        self.add_scripts(scripts)
        self.track(outpoints)

    def add_scripts(self, scripts: Iterable[bytes]) -> None:
        for script in scripts:
            script = bytes(script)
            self._scripts.add(script)
            self._script_lengths.add(len(script))

    def track(self, outpoints: Iterable[tuple[str, int]]) -> None:
        self._outpoint_keys.update(Outpoint(*outpoint).key() for outpoint in outpoints)

    def untrack(self, outpoints: Iterable[tuple[str, int]]) -> None:
        self._outpoint_keys.difference_update(Outpoint(*outpoint).key() for outpoint in outpoints)

    def apply(self, block: ScannedBlock) -> None:
        """Track the block's new outputs and forget the outpoints it spent."""
        self.track(output.outpoint for output in block.outputs)
        self.untrack(spend.spent for spend in block.spends)

    def tracks(self, outpoint: tuple[str, int]) -> bool:
        return Outpoint(*outpoint).key() in self._outpoint_keys

    @property
    def outpoints(self) -> set[Outpoint]:
        return {Outpoint.from_key(key) for key in self._outpoint_keys}


@dataclass(frozen=True)
class ScannedBlock:
    header: BlockHeader
    size: int
    # Internal byte order, as the merkle tree hashes them; `txids` gives the displayed hex.
    tx_hashes: list[bytes] = field(repr=False)
    outputs: list[WatchedOutput]
    spends: list[TrackedSpend]
    witness_tx_count: int
    # The serialized block and where each transaction starts in it (it ends where the next
    # starts, the last one at `size`): booking reads only the transactions it needs, and
    # `rematch` looks at outputs again without a second scan.
    raw: bytes = field(repr=False, default=b"")
    tx_offsets: list[int] = field(repr=False, default_factory=list)

    @property
    def hash(self) -> str:
        return self.header.hash

    @property
    def tx_count(self) -> int:
        return len(self.tx_hashes)

    @cached_property
    def txids(self) -> list[str]:
        return [tx_hash[::-1].hex() for tx_hash in self.tx_hashes]

    def tx_bytes(self, tx_index: int) -> bytes:
        """The serialization of transaction `tx_index` (with its witnesses), cut out of the block."""
        start = self.tx_offsets[tx_index]
        end = self.tx_offsets[tx_index + 1] if tx_index + 1 < len(self.tx_offsets) else self.size
        return self.raw[start:end]


def _varint(raw: bytes, offset: int) -> tuple[int, int]:
    """Compact size at `offset` -> (value, offset after it). The one-byte case is inlined by callers."""
    prefix = raw[offset]
    if prefix < 0xFD:
        return prefix, offset + 1
    width = 2 if prefix == 0xFD else 4 if prefix == 0xFE else 8
    end = offset + 1 + width
    if end > len(raw):
        raise MalformedBlock(f"truncated compact size at byte {offset}")
    return int.from_bytes(raw[offset + 1 : end], "little"), end


def scan_block(raw: bytes, watchlist: Watchlist) -> ScannedBlock:
    """Parse a serialized block (with or without witness data) and collect what `watchlist` watches.

    Does not verify anything: pass the result to `reserve.chain.verify.verify_block`
    before trusting it. Raises `MalformedBlock` when the bytes are not one block.
    """
    if not isinstance(raw, bytes):
        raw = bytes(raw)
    size = len(raw)
    header = parse_header(raw)
    try:
        return _scan(raw, size, header, watchlist)
    except IndexError:
        raise MalformedBlock("truncated block", block_hash=header.hash) from None


def _scan(raw: bytes, size: int, header: BlockHeader, watchlist: Watchlist) -> ScannedBlock:
    # The hot loop: locals only, the one-byte compact size inlined, a slice only where a
    # lookup needs one. Matches are kept as (tx_index, index, ...) until the txid is known.
    view = memoryview(raw)
    scripts = watchlist._scripts
    script_lengths = watchlist._script_lengths
    tracked = watchlist._outpoint_keys
    created_here: set[bytes] = set()
    watch_inputs = bool(tracked)
    varint = _varint

    tx_hashes: list[bytes] = []
    append_hash = tx_hashes.append
    tx_offsets: list[int] = []
    append_offset = tx_offsets.append
    found_outputs: list[tuple[int, int, int, bytes]] = []
    found_spends: list[tuple[int, int, bytes]] = []
    witness_tx_count = 0

    offset = HEADER_SIZE
    tx_count = raw[offset]
    if tx_count < 0xFD:
        offset += 1
    else:
        tx_count, offset = varint(raw, offset)
    if tx_count == 0:
        raise MalformedBlock("block has no transactions", block_hash=header.hash)

    for tx_index in range(tx_count):
        tx_start = offset
        append_offset(offset)
        segwit = raw[offset + 4] == 0
        if segwit:
            if raw[offset + 5] != 1:
                raise MalformedBlock(f"transaction {tx_index}: unknown serialization flag", block_hash=header.hash)
            offset += 6
            witness_tx_count += 1
        else:
            offset += 4
        body_start = offset

        input_count = raw[offset]
        if input_count < 0xFD:
            offset += 1
        else:
            input_count, offset = varint(raw, offset)
        for vin in range(input_count):
            # prevout (36) | script length | script | sequence (4)
            script_length = raw[offset + 36]
            if watch_inputs:
                key = raw[offset : offset + 36]
                if key in tracked or key in created_here:
                    found_spends.append((tx_index, vin, key))
            if script_length < 0xFD:
                offset += 41 + script_length
            else:
                script_length, after = varint(raw, offset + 36)
                offset = after + script_length + 4

        output_count = raw[offset]
        if output_count < 0xFD:
            offset += 1
        else:
            output_count, offset = varint(raw, offset)
        outputs_before = len(found_outputs)
        for vout in range(output_count):
            # value (8) | script length | script
            script_length = raw[offset + 8]
            if script_length < 0xFD:
                script_start = offset + 9
            else:
                script_length, script_start = varint(raw, offset + 8)
            script_end = script_start + script_length
            if script_length in script_lengths:
                script = raw[script_start:script_end]
                if script in scripts:
                    found_outputs.append((tx_index, vout, offset, script))
            offset = script_end
        body_end = offset

        if segwit:
            for _ in range(input_count):
                item_count = raw[offset]
                if item_count < 0xFD:
                    offset += 1
                else:
                    item_count, offset = varint(raw, offset)
                for _ in range(item_count):
                    item_length = raw[offset]
                    if item_length < 0xFD:
                        offset += 1 + item_length
                    else:
                        item_length, offset = varint(raw, offset)
                        offset += item_length
            # The txid commits to version | inputs | outputs | locktime, without marker, flag and witnesses.
            inner = sha256(view[tx_start : tx_start + 4])
            inner.update(view[body_start:body_end])
            inner.update(view[offset : offset + 4])
            tx_hash = sha256(inner.digest()).digest()
        else:
            tx_hash = sha256(sha256(view[tx_start : offset + 4]).digest()).digest()
        offset += 4
        if offset > size:
            raise IndexError
        append_hash(tx_hash)

        if len(found_outputs) > outputs_before:
            # A later transaction of this block may spend these outputs.
            for found in found_outputs[outputs_before:]:
                created_here.add(tx_hash + found[1].to_bytes(4, "little"))
            watch_inputs = True

    if offset != size:
        raise MalformedBlock(f"{size - offset} bytes after the last transaction", block_hash=header.hash)

    outputs = [
        WatchedOutput(
            txid=tx_hashes[tx_index][::-1].hex(),
            vout=vout,
            value_sats=int.from_bytes(raw[value_offset : value_offset + 8], "little"),
            script=script,
            tx_index=tx_index,
        )
        for tx_index, vout, value_offset, script in found_outputs
    ]
    spends = [
        TrackedSpend(txid=tx_hashes[tx_index][::-1].hex(), vin=vin, spent=Outpoint.from_key(key), tx_index=tx_index)
        for tx_index, vin, key in found_spends
    ]
    return ScannedBlock(
        header=header,
        size=size,
        tx_hashes=tx_hashes,
        outputs=outputs,
        spends=spends,
        witness_tx_count=witness_tx_count,
        raw=raw,
        tx_offsets=tx_offsets,
    )


def rematch(block: ScannedBlock, watchlist: Watchlist) -> ScannedBlock:
    """`block` with its outputs matched again against `watchlist` (grown since the scan, e.g.
    scripts derived past the gap limit), and the spends, later in the block, of outputs that
    only now match.

    Uses the offsets the scan recorded: it steps over each transaction's inputs and outputs
    only (no witnesses, no hashing, the txids are known), so it is no second scan.
    """
    raw, scripts, lengths = block.raw, watchlist._scripts, watchlist._script_lengths
    known = {(output.tx_index, output.vout) for output in block.outputs}
    outputs = list(block.outputs)
    spends = list(block.spends)
    created_here: set[bytes] = set()
    for tx_index, tx_start in enumerate(block.tx_offsets):
        offset = tx_start + (6 if raw[tx_start + 4] == 0 else 4)
        input_count = raw[offset]
        if input_count < 0xFD:
            offset += 1
        else:
            input_count, offset = _varint(raw, offset)
        for vin in range(input_count):
            if created_here:
                key = raw[offset : offset + 36]
                if key in created_here:
                    spends.append(TrackedSpend(block.txids[tx_index], vin, Outpoint.from_key(key), tx_index))
            script_length = raw[offset + 36]
            if script_length < 0xFD:
                offset += 41 + script_length
            else:
                script_length, after = _varint(raw, offset + 36)
                offset = after + script_length + 4
        output_count = raw[offset]
        if output_count < 0xFD:
            offset += 1
        else:
            output_count, offset = _varint(raw, offset)
        for vout in range(output_count):
            script_length = raw[offset + 8]
            if script_length < 0xFD:
                script_start = offset + 9
            else:
                script_length, script_start = _varint(raw, offset + 8)
            script_end = script_start + script_length
            if script_length in lengths:
                script = raw[script_start:script_end]
                if script in scripts and (tx_index, vout) not in known:
                    txid = block.txids[tx_index]
                    value = int.from_bytes(raw[offset : offset + 8], "little")
                    outputs.append(WatchedOutput(txid, vout, value, script, tx_index))
                    created_here.add(block.tx_hashes[tx_index] + vout.to_bytes(4, "little"))
            offset = script_end
    if len(outputs) == len(block.outputs):
        return block
    outputs.sort(key=lambda output: (output.tx_index, output.vout))
    spends.sort(key=lambda spend: (spend.tx_index, spend.vin))
    return replace(block, outputs=outputs, spends=spends)
