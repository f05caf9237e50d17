"""What the chain follower and reconciliation need of a node, as a Protocol: the RPC adapter
(`rpc.RpcChainSource`) implements it, and so can any other source (a test's in-memory chain)."""

from __future__ import annotations

from typing import Protocol

from reserve.chain.networks import Network


class ChainSource(Protocol):
    network: Network

    def block_count(self) -> int:
        """Height of the node's best chain tip."""
        ...

    def block_hash(self, height: int) -> str:
        """Hash of the best chain's block at `height`."""
        ...

    def raw_block(self, block_hash: str) -> bytes:
        """The serialized block (with witnesses); its header hashes to `block_hash`."""
        ...

    def raw_block_header(self, block_hash: str) -> bytes:
        """The 80-byte header; it hashes to `block_hash`."""
        ...

    def mempool_txids(self) -> set[str]:
        """Transactions the node holds unconfirmed."""
        ...
