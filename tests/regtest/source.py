"""The RPC chain source with what only tests ask of a regtest node: the tip, verbose headers,
chain tips, mining and invalidating blocks. Production code uses
`reserve.chain.rpc.RpcChainSource`, which carries none of this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reserve.chain.rpc import RpcChainSource


@dataclass(frozen=True)
class ChainTip:
    height: int
    hash: str
    branch_length: int
    # Bitcoin Core: active, valid-fork, valid-headers, headers-only, invalid; bcoin: active, valid-headers.
    status: str


class RegtestSource(RpcChainSource):
    def best_block_hash(self) -> str:
        return str(self._chain_call("getbestblockhash"))

    def block_header(self, block_hash: str) -> dict[str, Any]:
        """The node's verbose header (height, time, previousblockhash, ...): informative, not verified."""
        header: dict[str, Any] = self._chain_call("getblockheader", block_hash, True)
        return header

    def chain_tips(self) -> list[ChainTip]:
        return [
            ChainTip(
                height=int(tip["height"]),
                hash=str(tip["hash"]),
                branch_length=int(tip["branchlen"]),
                status=str(tip["status"]),
            )
            for tip in self._chain_call("getchaintips")
        ]

    def generate_to_address(self, count: int, address: str) -> list[str]:
        hashes: list[str] = self.call("generatetoaddress", count, address, retry=False)
        return hashes

    def invalidate_block(self, block_hash: str) -> None:
        self.call("invalidateblock", block_hash, retry=False)
