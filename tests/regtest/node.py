"""The regtest node of `make run` (reserve/chain/regtest_node.py), with what only tests need:
sources that carry the test helpers, and freezing the node (`suspend` / `resume`)."""

from __future__ import annotations

import signal
from typing import Any

from reserve.chain.regtest_node import RegtestNode as DevRegtestNode
from reserve.chain.regtest_node import ensure_node_modules
from tests.regtest.source import RegtestSource

__all__ = ["RegtestNode", "ensure_node_modules"]


class RegtestNode(DevRegtestNode):
    def source(self, **options: Any) -> RegtestSource:
        """A chain source on this node with the test helpers (network regtest unless given)."""
        options.setdefault("network", "regtest")
        return RegtestSource(self.rpc_url, **options)

    def suspend(self) -> None:
        """Freeze the node (SIGSTOP): it keeps its chain but answers nothing, as a hung or
        partitioned node would, until `resume()`."""
        if self.process is None:
            raise RuntimeError("the regtest node is not running")
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is None:
            raise RuntimeError("the regtest node is not running")
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a suspended node could not shut down
        super().stop()
