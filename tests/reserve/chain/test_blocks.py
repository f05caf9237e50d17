"""The raw block scanner on real mainnet blocks: hashes, txids and matches as published."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bitcoin.core import CBlock, b2lx

from reserve.chain.blocks import Outpoint, Watchlist, hash_to_hex, hex_to_hash, parse_header, scan_block
from reserve.chain.errors import MalformedBlock
from reserve.chain.merkle import merkle_root
from tests.reserve.chain.mainnet import CHAIN_DATA, PUBLISHED_BLOCKS, raw_block, rpc_json

SEGWIT_BLOCKS = ["block_482683", "block_540107", "block_574200", "block_702861", "block_951658"]


def _compact_size(value: int) -> bytes:
    if value < 0xFD:
        return bytes([value])
    if value <= 0xFFFF:
        return b"\xfd" + value.to_bytes(2, "little")
    return b"\xfe" + value.to_bytes(4, "little")


def _block_from_rpc_json(block: dict) -> bytes:
    """Serialize a `getblock <hash> 2` answer back into a raw block."""
    header = (
        block["version"].to_bytes(4, "little")
        + hex_to_hash(block["previousblockhash"])
        + hex_to_hash(block["merkleroot"])
        + block["time"].to_bytes(4, "little")
        + int(block["bits"], 16).to_bytes(4, "little")
        + block["nonce"].to_bytes(4, "little")
    )
    return header + _compact_size(len(block["tx"])) + b"".join(bytes.fromhex(tx["hex"]) for tx in block["tx"])


def _sats(btc: float | str) -> int:
    return int(Decimal(str(btc)) * 100_000_000)


@pytest.mark.parametrize("stem", sorted(PUBLISHED_BLOCKS))
def test_block_hash_and_transaction_counts_are_the_published_ones(stem):
    # given
    block_hash, tx_count, segwit_count = PUBLISHED_BLOCKS[stem]

    # when
    block = scan_block(raw_block(stem), Watchlist())

    # then
    assert block.hash == block_hash
    assert block.tx_count == tx_count
    assert block.witness_tx_count == segwit_count
    assert hash_to_hex(merkle_root(block.tx_hashes)[0]) == block.header.merkle_root


def test_recent_segwit_block_matches_bitcoin_core_getblock():
    # given: Bitcoin Core's `getblock <hash> 1` for block 951658
    published = rpc_json("electrumx_bitcoin_mainnet_951658.json")

    # when
    block = scan_block(bytes.fromhex(published["block"]), Watchlist())

    # then
    assert block.hash == published["hash"]
    assert block.txids == published["tx"]
    assert block.header.merkle_root == published["merkleroot"]
    assert block.header.prev_hash == published["previousblockhash"]
    assert block.header.version == published["version"]
    assert f"{block.header.bits:08x}" == published["bits"]
    assert block.header.time == published["time"]
    assert block.header.nonce == published["nonce"]
    assert block.size == published["size"]


def test_block_50001_rebuilt_from_getblock_json_gives_its_txids_outputs_and_spends():
    # given: block 50001 as Bitcoin Core described it, and the outputs its inputs spend
    published = rpc_json(
        "bitcoin-etl/rpc_response_getblock_000000001c920d495e1eeef2452b6d1c6c229a919b28196c103ecffebabee141_2.json"
    )
    raw = _block_from_rpc_json(published)
    payee = bytes.fromhex("76a914b5cd7aaed869cd5ccb45868e8666e7e934a2373688ac")
    spent = [Outpoint(vin["txid"], vin["vout"]) for tx in published["tx"][1:] for vin in tx["vin"]]
    watchlist = Watchlist(scripts=[payee], outpoints=spent)

    # when
    block = scan_block(raw, watchlist)

    # then
    assert block.hash == published["hash"]
    assert block.txids == [tx["txid"] for tx in published["tx"]]
    assert [(found.txid, found.vout, found.value_sats) for found in block.outputs] == [
        ("7940cdde4d713e171849efc6bd89939185be270266c94e92369e3877ad89455a", 0, _sats(100)),
        ("f84761459a00c6df3176ae5d94c99e69f25100d09548e5686bd0c354bb8cc60a", 0, _sats(50)),
    ]
    assert [(spend.txid, spend.vin, spend.spent) for spend in block.spends] == [
        ("7940cdde4d713e171849efc6bd89939185be270266c94e92369e3877ad89455a", 0, spent[0]),
        ("7940cdde4d713e171849efc6bd89939185be270266c94e92369e3877ad89455a", 1, spent[1]),
        ("f84761459a00c6df3176ae5d94c99e69f25100d09548e5686bd0c354bb8cc60a", 0, spent[2]),
    ]


@pytest.mark.parametrize("stem", SEGWIT_BLOCKS)
def test_txids_of_segwit_blocks_exclude_the_witness(stem):
    # given: python-bitcoinlib's txids (non-witness serialization) as an independent reference
    raw = raw_block(stem)
    reference = CBlock.deserialize(raw)

    # when
    block = scan_block(raw, Watchlist())

    # then
    assert block.txids == [b2lx(tx.GetTxid()) for tx in reference.vtx]
    assert block.txids != [b2lx(tx.GetHash()) for tx in reference.vtx]


@pytest.mark.parametrize("stem", ["block_300025", "block_574200", "block_702861"])
def test_finds_exactly_the_outputs_a_full_deserialization_finds(stem):
    # given: every 5th output's script watched (several pay the same script)
    raw = raw_block(stem)
    reference = CBlock.deserialize(raw)
    scripts = {bytes(out.scriptPubKey) for tx in reference.vtx for out in tx.vout[::5]}
    expected = [
        (b2lx(tx.GetTxid()), vout, out.nValue, bytes(out.scriptPubKey))
        for tx in reference.vtx
        for vout, out in enumerate(tx.vout)
        if bytes(out.scriptPubKey) in scripts
    ]

    # when
    block = scan_block(raw, Watchlist(scripts=scripts))

    # then
    assert [(found.txid, found.vout, found.value_sats, found.script) for found in block.outputs] == expected


def test_a_spend_of_an_output_found_earlier_in_the_same_block_is_reported():
    # given: an output created and spent inside block 702861, only its script watched
    raw = raw_block("block_702861")
    reference = CBlock.deserialize(raw)
    txids = [tx.GetTxid() for tx in reference.vtx]
    position = {txid: index for index, txid in enumerate(txids)}
    spender_index, vin, prevout = next(
        (index, vin, tx_in.prevout)
        for index, tx in enumerate(reference.vtx[1:], start=1)
        for vin, tx_in in enumerate(tx.vin)
        if tx_in.prevout.hash in position
    )
    creator = reference.vtx[position[prevout.hash]]
    script = bytes(creator.vout[prevout.n].scriptPubKey)

    # when
    block = scan_block(raw, Watchlist(scripts=[script]))

    # then
    created = Outpoint(b2lx(prevout.hash), prevout.n)
    assert created in {found.outpoint for found in block.outputs}
    assert (b2lx(txids[spender_index]), vin, created) in {(s.txid, s.vin, s.spent) for s in block.spends}


def test_watchlist_apply_tracks_new_outputs_and_forgets_spent_ones():
    # given
    published = rpc_json(
        "bitcoin-etl/rpc_response_getblock_000000001c920d495e1eeef2452b6d1c6c229a919b28196c103ecffebabee141_2.json"
    )
    spent = Outpoint("0d37522b89f991f8433b80f709ad31862a54435cd003f25732fe405e9db93216", 0)
    watchlist = Watchlist(
        scripts=[bytes.fromhex("76a914b5cd7aaed869cd5ccb45868e8666e7e934a2373688ac")], outpoints=[spent]
    )
    block = scan_block(_block_from_rpc_json(published), watchlist)

    # when
    watchlist.apply(block)

    # then
    assert watchlist.outpoints == {found.outpoint for found in block.outputs}
    assert not watchlist.tracks(spent)


def test_transaction_with_thousands_of_inputs_uses_wide_compact_sizes():
    # given: the 999,657-byte transaction with 5,569 inputs, alone in a block
    tx = (CHAIN_DATA / "tx" / "megatx_bb41a757.bin").read_bytes()
    raw = raw_block("block_0")[:80] + b"\x01" + tx

    # when
    block = scan_block(raw, Watchlist())

    # then
    assert block.txids == ["bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08"]


def test_transaction_with_a_500_kb_witness_item_parses():
    # given: the 2022 transaction that broke several parsers (one ~500 kB witness item)
    tx = bytes.fromhex((CHAIN_DATA / "tx" / "huge_witness_73be398c.hex").read_text().strip())
    op_return = bytes.fromhex("6a24") + b"you'll run cln. and you'll be happy."
    raw = raw_block("block_0")[:80] + b"\x01" + tx

    # when
    block = scan_block(raw, Watchlist(scripts=[op_return]))

    # then
    assert block.txids == ["73be398c4bdc43709db7398106609eea2a7841aaf3a4fa2000dc18184faa2a7e"]
    assert block.witness_tx_count == 1
    assert [found.script for found in block.outputs] == [op_return]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda raw: raw[:-1], "truncated block"),
        (lambda raw: raw[:500], "truncated block"),
        (lambda raw: raw + b"\x00", "1 bytes after the last transaction"),
        (lambda raw: raw[:40], "a block header is 80 bytes"),
        (lambda raw: raw[:80] + b"\x00", "block has no transactions"),
    ],
)
def test_malformed_bytes_raise_malformed_block_with_the_reason(mangle, reason):
    # given
    raw = mangle(raw_block("block_482683"))

    # when / then
    with pytest.raises(MalformedBlock, match=reason):
        scan_block(raw, Watchlist())


def test_header_fields_of_the_genesis_block():
    # when
    header = parse_header(raw_block("block_0"))

    # then
    assert header.hash == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert header.prev_hash == "00" * 32
    assert header.merkle_root == "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    assert (header.version, header.time, header.bits, header.nonce) == (1, 1231006505, 0x1D00FFFF, 2083236893)
