"""`manage.py regtest mine`: mines on the real regtest node, refuses other networks."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from reserve.chain.regtest_node import RegtestNode
from tests.regtest.source import RegtestSource


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
