"""What a scan records so nothing scans a block twice: each transaction's bytes by offset, and
`rematch`, which finds against a grown watchlist what a fresh scan would find."""

from __future__ import annotations

import pytest
from bitcoin.core import CBlock, CTransaction

from reserve.chain.blocks import Watchlist, rematch, scan_block
from tests.reserve.chain.mainnet import PUBLISHED_BLOCKS, raw_block


@pytest.mark.parametrize("stem", sorted(PUBLISHED_BLOCKS))
def test_each_transaction_is_cut_out_of_the_block_at_its_offsets(stem):
    raw = raw_block(stem)
    block = scan_block(raw, Watchlist())
    reference = CBlock.deserialize(raw)
    for tx_index in (0, block.tx_count // 2, block.tx_count - 1):
        assert CTransaction.deserialize(block.tx_bytes(tx_index)) == reference.vtx[tx_index]


@pytest.mark.parametrize("stem", ["block_481829", "block_574200", "block_702861", "block_951658"])
def test_rematch_against_a_grown_watchlist_finds_what_a_fresh_scan_finds(stem):
    # given: the block scanned with every 6th output's script watched, and a spent outpoint tracked
    raw = raw_block(stem)
    reference = CBlock.deserialize(raw)
    scripts = sorted({bytes(out.scriptPubKey) for tx in reference.vtx for out in tx.vout[::3]})
    first, later = scripts[::2], scripts[1::2]
    scanned = scan_block(raw, Watchlist(first))

    # when: the watchlist grows by the other half
    grown = Watchlist(scripts)
    again = rematch(scanned, grown)

    # then: the same outputs and spends (of outputs made in the block) as a fresh scan, in block order
    fresh = scan_block(raw, grown)
    assert again.outputs == fresh.outputs
    assert again.spends == fresh.spends
    assert len(again.outputs) > len(scanned.outputs) > 0 and later


def test_rematch_with_nothing_new_is_the_block_itself():
    raw = raw_block("block_574200")
    block = scan_block(raw, Watchlist([b"\x00\x14" + b"\x11" * 20]))
    assert rematch(block, Watchlist([b"\x00\x14" + b"\x22" * 20])) is block
