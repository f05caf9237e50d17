"""A P2WPKH spend signed by the test, its merkle proof, and a reorg that drops it, on a live regtest node."""

from __future__ import annotations

import pytest

from reserve.chain.blocks import Outpoint, Watchlist, scan_block
from reserve.chain.errors import NodeRpcError
from reserve.chain.merkle import verify_merkle_proof
from reserve.chain.verify import verify_block
from tests.regtest.blocks import SpendInput, generate_to_address, mine_block, sign_spend, spend_p2wpkh, txid_of
from tests.regtest.keys import WalletKey

pytestmark = pytest.mark.integration

FEE_SATS = 10_000


@pytest.fixture(scope="module")
def spend(segwit_chain):
    """The miner pays 1 BTC of the height-1 coinbase to `payee`, change back; mined by the node."""
    miner, payee = segwit_chain.miner_key, WalletKey("payee")
    source = segwit_chain.source
    spent, value_sats = segwit_chain.coinbase_output(1)
    tx = spend_p2wpkh(
        miner,
        [(spent, value_sats)],
        [(payee.p2wpkh_script, 100_000_000), (miner.p2wpkh_script, value_sats - 100_000_000 - FEE_SATS)],
    )
    txid = source.send_raw_transaction(tx.serialize())
    [block_hash] = generate_to_address(source, 1, WalletKey("other miner").p2wpkh_address)
    return {"tx": tx, "txid": txid, "spent": spent, "value_sats": value_sats, "block_hash": block_hash, "payee": payee}


def test_signed_p2wpkh_spend_is_found_by_the_scanner(segwit_chain, spend):
    # given: the wallet watches the miner's and payee's scripts and tracks the spent coinbase output
    source = segwit_chain.source
    watchlist = Watchlist(
        scripts=[segwit_chain.miner_key.p2wpkh_script, spend["payee"].p2wpkh_script], outpoints=[spend["spent"]]
    )

    # when
    block = scan_block(source.raw_block(spend["block_hash"]), watchlist)

    # then
    verify_block(block, network="regtest", parent_hash=source.block_hash(source.block_count() - 1))
    assert spend["txid"] == txid_of(spend["tx"]) and spend["txid"] in block.txids
    assert block.witness_tx_count == 2  # the spend, and the coinbase with its witness reserved value
    assert [(s.txid, s.vin, s.spent) for s in block.spends] == [(spend["txid"], 0, spend["spent"])]
    assert [(o.txid, o.vout, o.value_sats) for o in block.outputs] == [
        (spend["txid"], 0, 100_000_000),
        (spend["txid"], 1, spend["value_sats"] - 100_000_000 - FEE_SATS),
    ]


def test_txout_proof_of_the_spend_verifies(segwit_chain, spend):
    # when
    proof = verify_merkle_proof(
        segwit_chain.source.txout_proof([spend["txid"]], spend["block_hash"]), network="regtest", txid=spend["txid"]
    )

    # then
    assert proof.block_hash == spend["block_hash"]
    assert proof.matched_txids == [spend["txid"]]
    assert proof.total_transactions == 2


def test_reorg_onto_a_branch_with_a_conflicting_spend_drops_the_transaction(segwit_chain, spend):
    # given: the block with the spend is invalidated, and the test mines a competing branch in which
    # the same coinbase output pays someone else
    source = segwit_chain.source
    old_tip = source.best_block_hash()
    assert old_tip == spend["block_hash"]
    fork_hash = source.block_header(old_tip)["previousblockhash"]
    thief = WalletKey("conflicting payee")
    conflicting = spend_p2wpkh(
        segwit_chain.miner_key, [(spend["spent"], spend["value_sats"])], [(thief.p2wpkh_script, 50_000_000)]
    )
    old_height = source.block_count()
    source.call("invalidateblock", old_tip)
    assert source.best_block_hash() == fork_hash

    # when: two blocks on the fork point, longer than the old branch
    payout = WalletKey("branch miner").p2wpkh_script
    first = mine_block(source, payout_script=payout, transactions=[conflicting], parent_hash=fork_hash)
    second = mine_block(source, payout_script=payout, parent_hash=first)

    # then: the node follows the new branch and the spend is gone from the chain and the mempool
    assert source.best_block_hash() == second
    [active] = [tip for tip in source.chain_tips() if tip.status == "active"]
    assert (active.hash, active.height) == (second, old_height + 1)
    assert source.block_hash(old_height) == first != old_tip
    assert spend["txid"] not in source.call("getrawmempool")

    # and the scanner, walking the new branch from the fork point, sees the conflicting spend instead
    watchlist = Watchlist(scripts=[thief.p2wpkh_script, spend["payee"].p2wpkh_script], outpoints=[spend["spent"]])
    parent_hash, spends, outputs = fork_hash, [], []
    for block_hash in (first, second):
        block = scan_block(source.raw_block(block_hash), watchlist)
        verify_block(block, network="regtest", parent_hash=parent_hash)
        spends += block.spends
        outputs += block.outputs
        parent_hash = block.hash
    assert [(s.txid, s.spent) for s in spends] == [(txid_of(conflicting), spend["spent"])]
    assert [(o.txid, o.vout, o.value_sats, o.script) for o in outputs] == [
        (txid_of(conflicting), 0, 50_000_000, thief.p2wpkh_script)
    ]
    assert Outpoint(spend["txid"], 0) not in {o.outpoint for o in outputs}


def test_longer_competing_branch_reorganizes_the_node_and_leaves_a_stale_tip(segwit_chain):
    # given: a tip block, and a fork point one below it
    source = segwit_chain.source
    [stale] = generate_to_address(source, 1, WalletKey("stale miner").p2wpkh_address)
    fork_hash = source.block_header(stale)["previousblockhash"]

    # when: a two-block branch from the fork point is submitted (no invalidateblock)
    payout = WalletKey("branch miner").p2wpkh_script
    first = mine_block(source, payout_script=payout, parent_hash=fork_hash)
    assert source.best_block_hash() == stale  # equal work: the node keeps its first-seen tip
    second = mine_block(source, payout_script=payout, parent_hash=first)

    # then
    assert source.best_block_hash() == second
    tips = {tip.hash: tip for tip in source.chain_tips()}
    assert tips[second].status == "active"
    assert tips[stale].status != "active" and tips[stale].branch_length == 1


def test_p2pkh_and_p2wpkh_inputs_signed_together_are_accepted_and_scanned(segwit_chain):
    # given: a coinbase output moved to the legacy (P2PKH) address of a key, and mined
    source, miner = segwit_chain.source, segwit_chain.miner_key
    legacy = WalletKey("legacy holder")
    coinbase, coinbase_value = segwit_chain.coinbase_output(2)
    funding = spend_p2wpkh(miner, [(coinbase, coinbase_value)], [(legacy.p2pkh_script, coinbase_value - FEE_SATS)])
    source.send_raw_transaction(funding.serialize())
    generate_to_address(source, 1, miner.p2wpkh_address)
    legacy_output = Outpoint(txid_of(funding), 0)
    witness_output, witness_value = segwit_chain.coinbase_output(3)

    # when: one transaction spends the P2PKH output and a P2WPKH coinbase output
    payee = WalletKey("mixed payee")
    mixed = sign_spend(
        [
            SpendInput(legacy_output, coinbase_value - FEE_SATS, legacy, "p2pkh"),
            SpendInput(witness_output, witness_value, miner),
        ],
        [(payee.p2pkh_script, coinbase_value + witness_value - 2 * FEE_SATS)],
    )
    txid = source.send_raw_transaction(mixed.serialize())
    [block_hash] = generate_to_address(source, 1, miner.p2wpkh_address)

    # then
    block = scan_block(
        source.raw_block(block_hash), Watchlist(scripts=[payee.p2pkh_script], outpoints=[legacy_output, witness_output])
    )
    assert txid == txid_of(mixed)
    assert [(s.txid, s.vin, s.spent) for s in block.spends] == [(txid, 0, legacy_output), (txid, 1, witness_output)]
    assert [(o.txid, o.value_sats) for o in block.outputs] == [(txid, coinbase_value + witness_value - 2 * FEE_SATS)]


def test_transaction_signed_by_the_wrong_key_is_rejected_as_an_rpc_error(segwit_chain):
    # given: a coinbase output of the miner, "signed" by another key
    spent, value_sats = segwit_chain.coinbase_output(4)
    forged = sign_spend([SpendInput(spent, value_sats, WalletKey("not the owner"))], [(b"\x51", value_sats - FEE_SATS)])

    # when / then
    with pytest.raises(NodeRpcError, match="sendrawtransaction: ") as error:
        segwit_chain.source.send_raw_transaction(forged.serialize(), acceptance_timeout_seconds=1)
    assert error.value.rpc_code in {-25, -26}
