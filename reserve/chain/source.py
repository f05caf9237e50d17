"""What the chain follower and reconciliation need of a node, and nothing more, as a Protocol:
the RPC adapter (`rpc.RpcChainSource`) implements it, and so does the tests' in-memory chain
(tests/reserve/chain/memory_source.py); tests/reserve/chain/test_source_contract.py holds
both to the same answers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from reserve.chain.networks import Network


@runtime_checkable
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
