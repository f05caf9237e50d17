"""Pytest fixtures for a live regtest node; registered for every test package via tests/conftest.py.

- `regtest_node`: a fresh bcoin regtest node per test module (in-memory chain, genesis only).
- `regtest_source`: an `RegtestSource` on it (network regtest).
- `segwit_chain`: the module's node mined up to height 520 paying `miner_key`'s P2WPKH address,
  so segwit is active (BIP9 on bcoin regtest) and the early coinbase outputs are mature.
Tests that use them are integration tests: mark them `@pytest.mark.integration`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from reserve.chain.blocks import Outpoint, Watchlist, scan_block
from tests.regtest.blocks import generate_to_address
from tests.regtest.keys import WalletKey
from tests.regtest.node import RegtestNode
from tests.regtest.source import RegtestSource

SEGWIT_CHAIN_HEIGHT = 520


@dataclass
class SegwitChain:
    """A regtest chain where `miner_key` holds mature P2WPKH coinbase outputs."""

    node: RegtestNode
    source: RegtestSource
    miner_key: WalletKey

    def coinbase_output(self, height: int) -> tuple[Outpoint, int]:
        """The coinbase output at `height` (of the current best chain) paying the miner: (outpoint, value_sats)."""
        raw = self.source.raw_block(self.source.block_hash(height))
        found = scan_block(raw, Watchlist([self.miner_key.p2wpkh_script])).outputs[0]
        return found.outpoint, found.value_sats


@pytest.fixture(scope="module")
def regtest_node() -> Iterator[RegtestNode]:
    node = RegtestNode().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def regtest_source(regtest_node: RegtestNode) -> Iterator[RegtestSource]:
    with regtest_node.source() as source:
        yield source


@pytest.fixture(scope="module")
def segwit_chain(regtest_node: RegtestNode, regtest_source: RegtestSource) -> SegwitChain:
    miner_key = WalletKey("regtest miner")
    missing = SEGWIT_CHAIN_HEIGHT - regtest_source.block_count()
    if missing > 0:
        generate_to_address(regtest_source, missing, miner_key.p2wpkh_address)
    return SegwitChain(node=regtest_node, source=regtest_source, miner_key=miner_key)
