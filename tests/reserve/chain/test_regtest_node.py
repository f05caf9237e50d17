"""The chain source, scanner and verifier against a live bcoin regtest node."""

from __future__ import annotations

import pytest
from django.test import override_settings

from reserve.chain.blocks import WatchedOutput, Watchlist, scan_block
from reserve.chain.errors import BlockVerificationError, NodeRpcError, NodeUnavailable, WrongNetwork
from reserve.chain.rpc import RpcChainSource
from reserve.chain.verify import verify_block
from tests.regtest.blocks import block_subsidy_sats, generate_to_address
from tests.regtest.keys import WalletKey
from tests.regtest.node import RegtestNode

pytestmark = pytest.mark.integration

REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_a_fresh_node_is_on_regtest_at_genesis_and_its_url_hides_the_key(regtest_node, regtest_source):
    # when
    regtest_source.check_network()

    # then
    assert regtest_source.genesis_hash() == REGTEST_GENESIS
    assert regtest_source.block_count() == 0
    assert regtest_node.api_key not in regtest_source.url


def test_node_on_another_network_is_refused_before_its_data_is_used(regtest_node):
    # given: the service is configured for mainnet, the node follows regtest
    with regtest_node.source(network="mainnet") as source:
        # when / then
        with pytest.raises(WrongNetwork, match=r"follows regtest .*but BITCOIN_NETWORK is mainnet"):
            source.block_count()
        with pytest.raises(WrongNetwork):
            source.raw_block(REGTEST_GENESIS)


def test_wrong_api_key_is_reported_without_retrying(regtest_node):
    # given
    delays: list[float] = []
    url = regtest_node.rpc_url.replace(regtest_node.api_key, "not-the-key")

    # when / then
    with pytest.raises(NodeUnavailable, match="refused the credentials"):
        RpcChainSource(url, network="regtest", sleep=delays.append).block_count()
    assert delays == []


def test_unknown_block_is_a_node_rpc_error_not_an_outage(regtest_source):
    with pytest.raises(NodeRpcError, match=r"getblock: .*Block not found") as error:
        regtest_source.raw_block("11" * 32)
    assert error.value.rpc_code != 0


def test_mined_blocks_are_read_raw_verified_from_genesis_and_pay_the_watched_script(regtest_source):
    # given: 20 blocks mined to a bcrt1 P2WPKH address
    key = WalletKey("coinbase payee")
    start_height = regtest_source.block_count()
    mined = generate_to_address(regtest_source, 20, key.p2wpkh_address)
    watchlist = Watchlist(scripts=[key.p2wpkh_script])

    # when: follow the best chain from genesis, verifying every block against its parent
    parent_hash = regtest_source.block_hash(0)
    found: list[tuple[int, WatchedOutput]] = []
    for height in range(1, regtest_source.block_count() + 1):
        block_hash = regtest_source.block_hash(height)
        block = scan_block(regtest_source.raw_block(block_hash), watchlist)
        verify_block(block, network="regtest", parent_hash=parent_hash)
        found.extend((height, output) for output in block.outputs)
        parent_hash = block.hash

    # then
    assert parent_hash == mined[-1] == regtest_source.best_block_hash()
    assert [height for height, _ in found] == list(range(start_height + 1, start_height + 21))
    assert all(output.vout == 0 and output.tx_index == 0 for _, output in found)
    assert [output.value_sats for height, output in found] == [block_subsidy_sats(height) for height, _ in found]
    assert regtest_source.raw_block_header(mined[-1]) == regtest_source.raw_block(mined[-1])[:80]
    assert regtest_source.block_header(mined[-1])["height"] == start_height + 20
    assert regtest_source.block_count() == start_height + 20


def test_regtest_blocks_fail_mainnet_proof_of_work(regtest_source):
    # given
    tip = scan_block(regtest_source.raw_block(regtest_source.best_block_hash()), Watchlist())

    # when / then
    with pytest.raises(BlockVerificationError, match="above the mainnet proof-of-work limit"):
        verify_block(tip, network="mainnet", parent_hash=None)


def test_stopped_node_is_unavailable_after_retries_with_backoff():
    # given: a node that answered, then went away
    delays: list[float] = []
    with RegtestNode() as node:
        source = node.source(retries=3, backoff_seconds=0.25, sleep=delays.append)
        assert source.block_count() == 0
        url = node.rpc_url
    assert node.process is None

    # when / then
    with pytest.raises(NodeUnavailable, match="did not answer getblockcount after 4 attempts") as error:
        source.block_count()
    assert delays == [0.25, 0.5, 1.0]
    assert url.split("@")[0].split(":")[-1] not in error.value.message


def test_suspended_node_times_out_and_answers_again_with_its_chain_after_resume(regtest_node, regtest_source):
    # given
    height = regtest_source.block_count()
    delays: list[float] = []
    impatient = regtest_node.source(timeout_seconds=0.3, retries=1, sleep=delays.append)

    # when: the node hangs
    regtest_node.suspend()
    try:
        with pytest.raises(NodeUnavailable, match="after 2 attempts: TimeoutError"):
            impatient.block_count()
    finally:
        regtest_node.resume()

    # then: it comes back with the same chain
    assert impatient.block_count() == height
    assert delays == [0.5]


def test_node_takes_bitcoin_core_regtest_addresses_of_both_kinds(regtest_source):
    # given: base58 (prefix 0x6f, "m"/"n") and bech32 ("bcrt1") addresses as Bitcoin Core writes them
    key = WalletKey("address formats")
    assert key.p2pkh_address[0] in "mn" and key.p2wpkh_address.startswith("bcrt1q")

    # when
    [legacy_block] = generate_to_address(regtest_source, 1, key.p2pkh_address)
    [segwit_block] = generate_to_address(regtest_source, 1, key.p2wpkh_address)

    # then
    watchlist = Watchlist(scripts=[key.p2pkh_script, key.p2wpkh_script])
    assert [o.script for o in scan_block(regtest_source.raw_block(legacy_block), watchlist).outputs] == [
        key.p2pkh_script
    ]
    assert [o.script for o in scan_block(regtest_source.raw_block(segwit_block), watchlist).outputs] == [
        key.p2wpkh_script
    ]


def test_source_from_settings_uses_bitcoin_rpc_url_and_network(regtest_node):
    # given
    with override_settings(BITCOIN_RPC_URL=regtest_node.rpc_url, BITCOIN_NETWORK="regtest"):
        # when
        source = RpcChainSource.from_settings(retries=0)
        # then
        assert source.genesis_hash() == REGTEST_GENESIS
        assert source.network.name == "regtest"
    with override_settings(BITCOIN_RPC_URL=""), pytest.raises(NodeUnavailable, match="BITCOIN_RPC_URL is empty"):
        RpcChainSource.from_settings()


def test_a_node_kept_in_a_data_dir_answers_on_the_same_port_after_a_restart(tmp_path):
    # given: a node that kept its chain in tmp_path and was stopped
    first = RegtestNode(data_dir=tmp_path / "regtest").start()
    port = first.port
    first.stop()
    # when: started again on the same data
    again = RegtestNode(data_dir=tmp_path / "regtest").start()
    try:
        # then: the same URL (the web and worker keep theirs across a restart of the stack)
        assert again.port == port
        with again.source() as source:
            assert source.block_count() == 0
    finally:
        again.stop()
