"""`manage.py regtest mine|pay|reorg`: on the real regtest node; refuses other networks and bad arguments."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from bitcoin import segwit_addr
from django.core.management import CommandError, call_command
from django.test import override_settings

from reserve.chain.blocks import Watchlist, scan_block
from reserve.chain.regtest_node import RegtestNode
from reserve.custody.models import Agency
from reserve.custody.services import wallet_register
from reserve.management.demo_chain import DemoChain, DemoKeys
from tests.regtest.keys import WalletKey
from tests.regtest.source import RegtestSource

# bcoin regtest activates segwit after three BIP9 windows of 144 signalling blocks; the demo
# miner's coinbases are mature 100 blocks on.
SEGWIT_HEIGHT = 440


def test_mine_adds_blocks_to_the_node(regtest_node: RegtestNode, regtest_source: RegtestSource) -> None:
    # given
    before = regtest_source.block_count()
    out = StringIO()
    # when
    with override_settings(BITCOIN_NETWORK="regtest", BITCOIN_RPC_URL=regtest_node.rpc_url):
        call_command("regtest", "mine", "3", stdout=out)
    # then
    assert regtest_source.block_count() == before + 3
    assert f"tip is now height {before + 3}" in out.getvalue()


@pytest.mark.parametrize("count", ["0", "1001"])
def test_mine_refuses_a_count_out_of_range(regtest_node: RegtestNode, count: str) -> None:
    with (
        override_settings(BITCOIN_NETWORK="regtest", BITCOIN_RPC_URL=regtest_node.rpc_url),
        pytest.raises(CommandError, match="count must be between"),
    ):
        call_command("regtest", "mine", count)


def test_refuses_any_network_but_regtest() -> None:
    with (
        override_settings(BITCOIN_NETWORK="mainnet", BITCOIN_RPC_URL="http://127.0.0.1:1/"),
        pytest.raises(CommandError, match="only against a regtest node"),
    ):
        call_command("regtest", "mine", "1")


def test_a_node_that_does_not_answer_is_a_command_error_not_a_traceback() -> None:
    with (
        override_settings(BITCOIN_NETWORK="regtest", BITCOIN_RPC_URL="http://regtest:x@127.0.0.1:1/"),
        pytest.raises(CommandError, match="is `make run` running"),
    ):
        call_command("regtest", "mine", "1")


@pytest.fixture
def miner_chain(regtest_node: RegtestNode, regtest_source: RegtestSource) -> DemoChain:
    """The module's node with the demo miner's coinbases mature and segwit active."""
    miner_address = segwit_addr.encode("bcrt", 0, DemoKeys().miner_script[2:])
    regtest_source.generate_to_address(SEGWIT_HEIGHT - regtest_source.block_count(), str(miner_address))
    return DemoChain(regtest_source)


@pytest.mark.integration
@pytest.mark.django_db
def test_pay_then_reorg_the_payment_out_of_the_best_chain(
    regtest_node: RegtestNode, regtest_source: RegtestSource, miner_chain: DemoChain, agency: Agency, operator: Any
) -> None:
    # given: a wallet watching one address
    payee = WalletKey("regtest command payee")
    wallet = wallet_register(
        name="cold", agency=agency, kind="cold", network="regtest", addresses=[payee.p2wpkh_address], actor=operator
    )
    out = StringIO()
    with override_settings(BITCOIN_NETWORK="regtest", BITCOIN_RPC_URL=regtest_node.rpc_url):
        # when: the demo miner pays it
        call_command("regtest", "pay", wallet.name, "0.25", stdout=out)
        paid_height = regtest_source.block_count()
        block = scan_block(
            regtest_source.raw_block(regtest_source.block_hash(paid_height)), Watchlist([payee.p2wpkh_script])
        )
        # then: a block at the tip pays the wallet's address exactly that
        assert [found.value_sats for found in block.outputs] == [25_000_000]
        assert f"paid 0.25 BTC to cold ({payee.p2wpkh_address}) at height {paid_height}" in out.getvalue()

        # when: a reorg of depth 1
        call_command("regtest", "reorg", "--depth", "1", stdout=out)
    # then: the chain is one longer, on another branch, and the payment is in no block of it
    assert regtest_source.block_count() == paid_height + 1
    assert regtest_source.block_hash(paid_height) != block.hash
    assert regtest_source.call("gettxout", block.outputs[0].txid, block.outputs[0].vout, False) is None
    assert f"blocks {paid_height}..{paid_height} replaced by a branch of 2" in out.getvalue()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["pay", "no-such-wallet", "1"], "no regtest wallet named"),
        (["reorg", "--depth", "0"], "depth must be between 1"),
    ],
)
@pytest.mark.django_db
def test_pay_and_reorg_refuse_bad_arguments(regtest_node: RegtestNode, arguments: list[str], message: str) -> None:
    with (
        override_settings(BITCOIN_NETWORK="regtest", BITCOIN_RPC_URL=regtest_node.rpc_url),
        pytest.raises(CommandError, match=message),
    ):
        call_command("regtest", *arguments)
