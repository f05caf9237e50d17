"""The regtest node runner lives in reserve/chain/regtest_node.py (`make run` uses it too)."""

from reserve.chain.regtest_node import RegtestNode, ensure_node_modules

__all__ = ["RegtestNode", "ensure_node_modules"]
