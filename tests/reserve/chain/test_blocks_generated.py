"""The scanner against python-bitcoinlib on generated transactions: every compact-size width,
empty and long scripts, witness and legacy transactions mixed in one block."""

from __future__ import annotations

from bitcoin.core import (
    CBlock,
    COutPoint,
    CScriptWitness,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
    b2lx,
)
from bitcoin.core.script import CScript
from hypothesis import given, settings
from hypothesis import strategies as st

from reserve.chain.blocks import Outpoint, Watchlist, hash_to_hex, scan_block
from reserve.chain.merkle import merkle_root
from tests.reserve.chain.mainnet import raw_block

# Lengths around the compact-size boundaries (0xfc | 0xfd, 0xffff | 0x10000).
byte_strings = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([252, 253, 254, 600]).map(lambda length: b"\x51" * length),
    st.just(b"\x6a" * 0x10000),
)
outpoints = st.builds(lambda txid, vout: COutPoint(txid, vout), st.binary(min_size=32, max_size=32), st.integers(0, 3))


@st.composite
def transactions(draw: st.DrawFn) -> CTransaction:
    inputs = [
        CTxIn(draw(outpoints), CScript(draw(byte_strings)), draw(st.integers(0, 0xFFFFFFFF)))
        for _ in range(draw(st.integers(1, 3)))
    ]
    outputs = [
        CTxOut(draw(st.integers(0, 21_000_000 * 100_000_000)), CScript(draw(byte_strings)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    witness = CTxWitness()
    if draw(st.booleans()):
        witness = CTxWitness(
            [CTxInWitness(CScriptWitness(draw(st.lists(byte_strings, min_size=1, max_size=3)))) for _ in inputs]
        )
    return CTransaction(inputs, outputs, nLockTime=draw(st.integers(0, 0xFFFFFFFF)), nVersion=2, witness=witness)


@settings(max_examples=60, deadline=None)
@given(st.lists(transactions(), min_size=1, max_size=4), st.data())
def test_generated_block_scans_like_a_full_deserialization(txs, data):
    # given: a block of generated transactions; some scripts watched, some outpoints tracked
    header = raw_block("block_0")[:80]
    block_bytes = CBlock(
        nVersion=1,
        hashPrevBlock=header[4:36],
        nTime=1,
        nBits=0x207FFFFF,
        vtx=txs,
    ).serialize()
    reference = CBlock.deserialize(block_bytes)
    all_scripts = [bytes(out.scriptPubKey) for tx in reference.vtx for out in tx.vout]
    watched = set(data.draw(st.lists(st.sampled_from(all_scripts), unique=True))) if all_scripts else set()
    prevouts = [Outpoint(b2lx(txin.prevout.hash), txin.prevout.n) for tx in reference.vtx for txin in tx.vin]
    tracked = set(data.draw(st.lists(st.sampled_from(prevouts), unique=True)))

    # when
    block = scan_block(block_bytes, Watchlist(scripts=watched, outpoints=tracked))

    # then
    assert block.txids == [b2lx(tx.GetTxid()) for tx in reference.vtx]
    assert block.hash == b2lx(reference.GetHash())
    assert block.witness_tx_count == sum(tx.has_witness() for tx in reference.vtx)
    assert [(o.txid, o.vout, o.value_sats, o.script) for o in block.outputs] == [
        (b2lx(tx.GetTxid()), vout, out.nValue, bytes(out.scriptPubKey))
        for tx in reference.vtx
        for vout, out in enumerate(tx.vout)
        if bytes(out.scriptPubKey) in watched
    ]
    assert [(s.txid, s.vin, s.spent) for s in block.spends] == [
        (b2lx(tx.GetTxid()), vin, Outpoint(b2lx(txin.prevout.hash), txin.prevout.n))
        for tx in reference.vtx
        for vin, txin in enumerate(tx.vin)
        if Outpoint(b2lx(txin.prevout.hash), txin.prevout.n) in tracked
    ]
    assert hash_to_hex(merkle_root(block.tx_hashes)[0]) == block.header.merkle_root == b2lx(reference.hashMerkleRoot)
