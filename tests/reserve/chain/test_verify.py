"""Consensus checks on blocks and headers: linkage, proof of work against bits, merkle root."""

from __future__ import annotations

import itertools
import json

import pytest
from bitcoin.core import CBlock

from reserve.chain.blocks import BlockHeader, Watchlist, parse_header, scan_block
from reserve.chain.errors import BlockVerificationError
from reserve.chain.pow import bits_from_target, required_bits, target_from_bits, verify_proof_of_work
from reserve.chain.verify import verify_block, verify_difficulty, verify_header
from tests.reserve.chain.mainnet import CHAIN_DATA, PUBLISHED_BLOCKS, blk_file_blocks, raw_block


def _compact_size(value: int) -> bytes:
    assert value < 0xFD
    return bytes([value])


@pytest.mark.parametrize("stem", sorted(PUBLISHED_BLOCKS))
def test_every_real_mainnet_block_verifies(stem):
    # given
    block = scan_block(raw_block(stem), Watchlist())

    # when / then: no exception
    verify_block(block, network="mainnet", parent_hash=block.header.prev_hash)


def test_the_first_439_blocks_verify_as_a_linked_chain():
    # given: heights 0..438 from a blk*.dat file
    raws = blk_file_blocks()
    parent_hash = None

    # when
    for raw in raws:
        block = scan_block(raw, Watchlist())
        verify_block(block, network="mainnet", parent_hash=parent_hash)
        parent_hash = block.hash

    # then
    assert len(raws) == 439
    assert parent_hash == "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a"


def test_block_that_does_not_link_to_our_tip_is_refused():
    # given: 227836 is the child of 227835, not of 169482
    child = scan_block(raw_block("block_227836"), Watchlist())
    parent = scan_block(raw_block("block_227835"), Watchlist())
    verify_block(child, network="mainnet", parent_hash=parent.hash)

    # when / then
    expected_reason = r"parent is 00000000000001aa07.*, expected 0000000000000756"
    with pytest.raises(BlockVerificationError, match=expected_reason) as error:
        verify_block(child, network="mainnet", parent_hash=PUBLISHED_BLOCKS["block_169482"][0])
    assert error.value.block_hash == child.hash


def test_block_whose_transactions_were_altered_fails_the_merkle_root():
    # given: one byte of the last transaction's locktime changed
    raw = bytearray(raw_block("block_482683"))
    raw[-1] ^= 0x01
    block = scan_block(bytes(raw), Watchlist())

    # when / then
    with pytest.raises(BlockVerificationError, match="merkle root does not match the transactions"):
        verify_block(block, network="mainnet", parent_hash=None)


def test_block_with_a_witness_altered_still_matches_its_merkle_root():
    # given: the txid merkle root does not commit to witnesses, so a witness byte changes no txid
    original = scan_block(raw_block("block_482683"), Watchlist())
    raw = bytearray(raw_block("block_482683"))
    vtx = CBlock.deserialize(bytes(raw)).vtx
    segwit_index = max(index for index, tx in enumerate(vtx) if tx.has_witness())
    # The byte before the locktime is the last byte of the transaction's last witness item.
    raw[_offset_of_transaction(bytes(raw), segwit_index + 1) - 5] ^= 0x01

    # when
    block = scan_block(bytes(raw), Watchlist())

    # then
    assert raw != bytearray(raw_block("block_482683"))
    assert block.txids == original.txids
    verify_block(block, network="mainnet", parent_hash=None)


def test_block_with_duplicated_transactions_is_refused_although_its_root_matches():
    # given: block 169482 (14 txs) with its last two transactions repeated: same merkle root (CVE-2012-2459)
    raw = raw_block("block_169482")
    block = scan_block(raw, Watchlist())
    tail_start = _offset_of_transaction(raw, 12)
    mutated_raw = raw[:80] + _compact_size(16) + raw[81:] + raw[tail_start:]
    mutated = scan_block(mutated_raw, Watchlist())
    assert mutated.tx_count == 16 and mutated.hash == block.hash

    # when / then
    with pytest.raises(BlockVerificationError, match="CVE-2012-2459"):
        verify_block(mutated, network="mainnet", parent_hash=None)


def _offset_of_transaction(raw: bytes, index: int) -> int:
    vtx = CBlock.deserialize(raw).vtx
    return len(raw) - sum(len(tx.serialize()) for tx in vtx[index:])


def test_header_with_a_changed_nonce_fails_proof_of_work():
    # given
    raw = bytearray(raw_block("block_413567")[:80])
    raw[76] ^= 0x01
    header = parse_header(bytes(raw))

    # when / then
    with pytest.raises(BlockVerificationError, match="insufficient proof of work"):
        verify_header(header, network="mainnet", parent_hash=None)


def test_easy_bits_are_refused_above_the_network_limit_but_accepted_on_regtest():
    # given: a header claiming regtest difficulty (bits 0x207fffff) and meeting it
    base = bytearray(raw_block("block_1")[:80])
    base[72:76] = (0x207FFFFF).to_bytes(4, "little")
    header = next(
        parse_header(bytes(base[:76]) + nonce.to_bytes(4, "little"))
        for nonce in range(1000)
        if int(parse_header(bytes(base[:76]) + nonce.to_bytes(4, "little")).hash, 16) <= target_from_bits(0x207FFFFF)
    )

    # when / then
    verify_proof_of_work(header, network="regtest")
    with pytest.raises(BlockVerificationError, match="above the mainnet proof-of-work limit"):
        verify_proof_of_work(header, network="mainnet")


@pytest.mark.parametrize(
    ("bits", "target"),
    [
        (0x1D00FFFF, 0xFFFF << 208),
        (0x207FFFFF, 0x7FFFFF << 232),
        (0x1702068F, 0x02068F << 160),
        (0x03123456, 0x123456),
        (0x02123456, 0x1234),
    ],
)
def test_target_from_bits(bits, target):
    assert target_from_bits(bits) == target
    assert target_from_bits(bits_from_target(target)) == target


@pytest.mark.parametrize(
    ("bits", "reason"),
    [(0x04923456, "negative"), (0x23000001, "overflow"), (0x22010000, "overflow"), (0x1D000000, "zero")],
)
def test_invalid_bits_are_refused(bits, reason):
    with pytest.raises(BlockVerificationError, match=reason):
        target_from_bits(bits)


def test_header_chain_with_a_stale_block_and_a_disconnected_header():
    # given: headers 562621..562639, a stale block at 562630 and a header that connects to nothing
    published = json.loads((CHAIN_DATA / "headers" / "summa_headers.json").read_text())
    headers = [parse_header(bytes.fromhex(entry["hex"][2:])) for entry in published["chain"]]
    orphan = parse_header(bytes.fromhex(published["orphan_562630"]["hex"][2:]))
    bad = parse_header(bytes.fromhex(published["badHeader"]["hex"][2:]))

    # when
    for parent, child in itertools.pairwise(headers):
        verify_header(child, network="mainnet", parent_hash=parent.hash)

    # then: the stale block links to 562629 but not to 562630; the bad header links to neither
    at_562629 = next(header for header in headers if header.hash == orphan.prev_hash)
    verify_header(orphan, network="mainnet", parent_hash=at_562629.hash)
    with pytest.raises(BlockVerificationError, match="parent is"):
        verify_header(orphan, network="mainnet", parent_hash=headers[headers.index(at_562629) + 1].hash)
    verify_proof_of_work(bad, network="mainnet")
    assert bad.prev_hash not in {header.hash for header in headers}


def _summa_header(entry: dict) -> BlockHeader:
    return parse_header(bytes.fromhex(entry["hex"][2:]))


@pytest.mark.parametrize(
    ("file_name", "chain_keys", "retarget_height"),
    [
        ("summa_headersWithRetarget.json", ["genesis", "chain"], 554400),
        ("summa_headersReorgAndRetarget.json", ["genesis", "preRetargetChain", "postRetargetChain"], 437472),
    ],
)
def test_difficulty_of_real_headers_across_a_retarget_is_the_required_one(file_name, chain_keys, retarget_height):
    # given: linked mainnet headers across a retarget, and the header that started the old period
    published = json.loads((CHAIN_DATA / "headers" / file_name).read_text())
    entries = [published["genesis"]] + [entry for key in chain_keys[1:] for entry in published[key]]
    headers = [(int(entry["height"]), _summa_header(entry)) for entry in entries]
    period_start = _summa_header(published["oldPeriodStart"])
    assert int(published["oldPeriodStart"]["height"]) == retarget_height - 2016

    # when / then: every header has the bits consensus requires, and the retarget changed them
    for (_, parent), (height, header) in itertools.pairwise(headers):
        verify_header(header, network="mainnet", parent_hash=parent.hash)
        verify_difficulty(
            header,
            network="mainnet",
            height=height,
            parent=parent,
            period_start=period_start if height == retarget_height else None,
        )
    bits_by_height = {height: header.bits for height, header in headers}
    assert bits_by_height[retarget_height] != bits_by_height[retarget_height - 1]


def test_header_claiming_easier_bits_than_required_is_refused():
    # given: two real consecutive headers, the child's bits changed to difficulty 1 (which a
    # cheap branch could meet; the proof of work alone would only check the claimed bits)
    published = json.loads((CHAIN_DATA / "headers" / "summa_headers.json").read_text())
    parent, child = (_summa_header(entry) for entry in published["chain"][:2])
    assert published["chain"][1]["height"] == 562623
    verify_difficulty(child, network="mainnet", height=562623, parent=parent)
    easier = parse_header(child.raw[:72] + (0x1D00FFFF).to_bytes(4, "little") + child.raw[76:])

    # when / then
    with pytest.raises(BlockVerificationError, match="bits 0x1d00ffff at height 562623, consensus requires 0x172e6f88"):
        verify_difficulty(easier, network="mainnet", height=562623, parent=parent)


def test_retarget_needs_the_period_start_and_is_clamped_to_four_times():
    # given: a parent 2016 blocks after a period start, 10 weeks later (more than 4 x 2 weeks)
    parent = parse_header(raw_block("block_413567"))
    period_start = parse_header(
        parent.raw[:68] + (parent.time - 10 * 7 * 24 * 3600).to_bytes(4, "little") + parent.raw[72:]
    )

    # when
    required = required_bits(network="mainnet", height=2016 * 205, parent=parent, period_start=period_start)

    # then
    assert required == bits_from_target(target_from_bits(parent.bits) * 4)
    assert required_bits(network="regtest", height=2016, parent=parent, period_start=None) == parent.bits
    assert required_bits(network="testnet", height=2016, parent=parent, period_start=None) is None
    with pytest.raises(ValueError, match="needs the header at height 411264"):
        required_bits(network="mainnet", height=2016 * 205, parent=parent, period_start=None)
