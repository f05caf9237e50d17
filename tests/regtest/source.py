"""The RPC chain source with what only tests ask of a regtest node: the tip, verbose headers,
chain tips, broadcasting, mining and invalidating blocks. Production code uses
`reserve.chain.rpc.RpcChainSource`, which carries none of this."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from reserve.chain.errors import NodeRpcError
from reserve.chain.rpc import RpcChainSource

_REJECTED_ERROR_CODE = -26  # Bitcoin Core's RPC_VERIFY_REJECTED


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

    def send_raw_transaction(self, transaction: bytes | str, *, acceptance_timeout_seconds: float = 5.0) -> str:
        """Broadcast; returns the txid once the node holds the transaction in its mempool.

        Bitcoin Core answers a rejection with an error; bcoin 1.0 answers with the txid before
        validating and drops an invalid transaction silently. Both are held to the same test:
        the transaction must show up in the mempool, else `NodeRpcError` (code -26, rejected).
        """
        hex_tx = transaction if isinstance(transaction, str) else transaction.hex()
        if not self._network_checked:
            self.check_network()
        txid = str(self.call("sendrawtransaction", hex_tx))
        deadline = time.monotonic() + acceptance_timeout_seconds
        while True:
            try:
                self.call("getmempoolentry", txid)
                return txid
            except NodeRpcError:
                if time.monotonic() >= deadline:
                    raise NodeRpcError(
                        f"the node did not accept transaction {txid} into its mempool (its log says why)",
                        rpc_code=_REJECTED_ERROR_CODE,
                        method="sendrawtransaction",
                    ) from None
            time.sleep(0.02)
