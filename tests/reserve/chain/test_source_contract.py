"""One contract for every `ChainSource`: the in-memory chain the unit tests use and the real
regtest node answer the same questions alike, so the fake cannot drift from the node."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from reserve.chain.blocks import Watchlist, parse_header
from reserve.chain.errors import NodeRpcError
from reserve.chain.follow import verified_block
from reserve.chain.rpc import RpcChainSource
from reserve.chain.source import ChainSource
from tests.regtest.blocks import block_subsidy_sats, mine_block
from tests.regtest.keys import WalletKey
from tests.reserve.chain.memory_source import MemorySource

REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
ROOT = Path(__file__).resolve().parents[3]

Mine = Callable[[bytes], str]


@pytest.fixture(params=["memory", pytest.param("regtest", marks=pytest.mark.integration)])
def chain(request: pytest.FixtureRequest) -> tuple[ChainSource, Mine]:
    if request.param == "memory":
        memory = MemorySource()
        return memory, lambda script: memory.mine(payout_script=script)
    node = request.getfixturevalue("regtest_source")
    return node, lambda script: mine_block(node, payout_script=script)


def test_a_source_serves_the_regtest_chain_block_by_block(chain: tuple[ChainSource, Mine]) -> None:
    # given: three blocks paying one key on top of whatever the source holds
    source, mine = chain
    key = WalletKey("contract payee")
    start = source.block_count()
    mined = [mine(key.p2wpkh_script) for _ in range(3)]

    # then: it is a ChainSource on regtest, from the regtest genesis block
    assert isinstance(source, ChainSource)
    assert source.network.name == "regtest"
    assert source.block_hash(0) == REGTEST_GENESIS
    # and the best chain has the new blocks at their heights, each raw block headed by its header
    assert source.block_count() == start + 3
    assert [source.block_hash(start + offset) for offset in (1, 2, 3)] == mined
    for block_hash in mined:
        raw = source.raw_block(block_hash)
        assert source.raw_block_header(block_hash) == raw[:80]
        assert parse_header(raw).hash == block_hash
    # and each block passes the follower's checks on its parent and pays the key its subsidy
    parent_hash = source.block_hash(start)
    parent = parse_header(source.raw_block_header(parent_hash))
    for height in range(start + 1, start + 4):
        block = verified_block(
            source,
            height=height,
            block_hash=source.block_hash(height),
            watchlist=Watchlist([key.p2wpkh_script]),
            parent_hash=parent_hash,
            parent=parent,
        )
        [paid] = block.outputs
        assert (paid.tx_index, paid.vout, paid.value_sats) == (0, 0, block_subsidy_sats(height))
        parent_hash, parent = block.hash, block.header
    # and a mined coinbase is not in the mempool
    assert isinstance(source.mempool_txids(), set)
    assert paid.txid not in source.mempool_txids()


def test_a_source_answers_unknown_blocks_and_heights_with_a_node_error(chain: tuple[ChainSource, Mine]) -> None:
    source, _ = chain
    with pytest.raises(NodeRpcError):
        source.block_hash(source.block_count() + 1)
    with pytest.raises(NodeRpcError):
        source.raw_block("11" * 32)
    with pytest.raises(NodeRpcError):
        source.raw_block_header("11" * 32)


def test_the_rpc_adapter_satisfies_the_protocol_without_a_node() -> None:
    assert isinstance(RpcChainSource("http://127.0.0.1:1/", network="regtest"), ChainSource)
    assert isinstance(MemorySource(), ChainSource)


def _source_calls(paths: list[Path]) -> set[str]:
    """Attributes read from a variable named `source` in these files."""
    return {
        node.attr
        for path in paths
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "source"
    }


def test_the_protocol_holds_exactly_what_the_follower_and_reconciliation_use() -> None:
    # Every member is used (nothing dead), and nothing the follower uses is missing.
    members = {name for name in vars(ChainSource) if not name.startswith("_")} | set(ChainSource.__annotations__)
    users = [*sorted((ROOT / "reserve" / "reconciliation").glob("*.py")), ROOT / "reserve" / "chain" / "follow.py"]
    assert _source_calls(users) == members
