"""An in-memory `ChainSource`: a regtest chain of real serialized blocks, built and mined here.

It starts at the regtest genesis block and answers exactly what `reserve.chain.source.ChainSource`
asks. Blocks are made by `tests.regtest.blocks.build_block` (real transactions, real merkle
roots, proof of work solved at regtest difficulty), so the follower parses and verifies them
as it does the node's. `test_source_contract.py` holds it and the regtest node to the same answers.
"""

from __future__ import annotations

from bitcoin.core import CoreRegTestParams, CTransaction

from reserve.chain.blocks import hash_to_hex
from reserve.chain.errors import NodeRpcError
from reserve.chain.networks import Network, network_named
from tests.regtest.blocks import build_block
from tests.regtest.keys import WalletKey

_NOT_FOUND = -5  # Bitcoin Core's RPC_INVALID_ADDRESS_OR_KEY ("Block not found")
_OUT_OF_RANGE = -8  # RPC_INVALID_PARAMETER ("Block height out of range")
FILLER = WalletKey("memory source filler")


class MemorySource:
    """The best chain as a list of block hashes over a store of every block ever mined here."""

    network: Network

    def __init__(self) -> None:
        self.network = network_named("regtest")
        genesis = CoreRegTestParams.GENESIS_BLOCK
        genesis_hash = hash_to_hex(bytes(genesis.GetHash()))
        self._blocks: dict[str, bytes] = {genesis_hash: genesis.serialize()}
        self._times: dict[str, int] = {genesis_hash: genesis.nTime}
        self.best: list[str] = [genesis_hash]
        self.mempool: set[str] = set()
        self.calls: list[tuple[str, object]] = []

    # ChainSource

    def block_count(self) -> int:
        self.calls.append(("block_count", None))
        return len(self.best) - 1

    def block_hash(self, height: int) -> str:
        self.calls.append(("block_hash", height))
        if not 0 <= height < len(self.best):
            raise NodeRpcError("Block height out of range", rpc_code=_OUT_OF_RANGE, method="getblockhash")
        return self.best[height]

    def raw_block(self, block_hash: str) -> bytes:
        self.calls.append(("raw_block", block_hash))
        if block_hash not in self._blocks:
            raise NodeRpcError("Block not found", rpc_code=_NOT_FOUND, method="getblock")
        return self._blocks[block_hash]

    def raw_block_header(self, block_hash: str) -> bytes:
        self.calls.append(("raw_block_header", block_hash))
        if block_hash not in self._blocks:
            raise NodeRpcError("Block not found", rpc_code=_NOT_FOUND, method="getblockheader")
        return self._blocks[block_hash][:80]

    def mempool_txids(self) -> set[str]:
        return set(self.mempool)

    # Test helpers

    def mine(
        self,
        *transactions: CTransaction,
        payout_script: bytes | None = None,
        parent_hash: str | None = None,
    ) -> str:
        """A block with `transactions` on `parent_hash` (default: the tip); it becomes the tip
        when it extends the best chain's longest branch. Returns its hash."""
        parent_hash = parent_hash or self.best[-1]
        height = self._height_of(parent_hash) + 1
        block = build_block(
            parent_hash=parent_hash,
            height=height,
            block_time=self._times[parent_hash] + 600,
            payout_script=payout_script or FILLER.p2wpkh_script,
            transactions=list(transactions),
        )
        block_hash = hash_to_hex(bytes(block.GetHash()))
        self._blocks[block_hash] = block.serialize()
        self._times[block_hash] = block.nTime
        if height >= len(self.best):
            self.best = [*self._branch(parent_hash), block_hash]
        for tx in transactions:
            self.mempool.discard(hash_to_hex(bytes(tx.GetTxid())))
        return block_hash

    def mine_many(self, count: int, *, payout_script: bytes | None = None) -> list[str]:
        return [self.mine(payout_script=payout_script) for _ in range(count)]

    def _height_of(self, block_hash: str) -> int:
        return len(self._branch(block_hash)) - 1

    def _branch(self, block_hash: str) -> list[str]:
        """Hashes from genesis to `block_hash`."""
        branch = [block_hash]
        while branch[-1] != self.best[0]:
            branch.append(hash_to_hex(self._blocks[branch[-1]][4:36]))
        return branch[::-1]

    def raw_blocks_fetched(self) -> list[str]:
        return [str(argument) for name, argument in self.calls if name == "raw_block"]
