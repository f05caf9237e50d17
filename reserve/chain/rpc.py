"""Chain source over Bitcoin Core's JSON-RPC (also spoken by bcoin) through python-bitcoinlib's RawProxy.

Transport failures are retried with exponential backoff and then raised as
`NodeUnavailable`; a node on another chain raises `WrongNetwork` before any of its data
is used. One instance per thread: the underlying HTTP connection is not shared safely.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.parse
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Self

from bitcoin.rpc import JSONRPCError, RawProxy

from reserve.chain.blocks import parse_header
from reserve.chain.errors import BlockVerificationError, NodeRpcError, NodeUnavailable, WrongNetwork
from reserve.chain.networks import NETWORKS, Network, network_named

logger = logging.getLogger(__name__)

# RawProxy's own codes for "the HTTP answer was not JSON-RPC" (proxy error pages, 401, 503, ...).
_TRANSPORT_ERROR_CODES = {-342, -343, -344}
_WARMUP_ERROR_CODE = -28
_REJECTED_ERROR_CODE = -26  # Bitcoin Core's RPC_VERIFY_REJECTED


def _redacted(service_url: str) -> str:
    """The URL without its credentials, for messages and logs."""
    parts = urllib.parse.urlsplit(service_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


class RpcChainSource:
    """The `ChainSource` over a node's JSON-RPC, plus the merkle proofs (`txout_proof`) that proofs of
    reserves verify, and what signing needs (a fee estimate, broadcasting). Helpers that only tests
    need (mining, invalidating, chain tips) live in tests/regtest/source.py."""

    def __init__(
        self,
        service_url: str,
        *,
        network: Network | str = "regtest",
        timeout_seconds: float = 30.0,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not service_url:
            raise NodeUnavailable("no bitcoin node configured (BITCOIN_RPC_URL is empty)")
        if urllib.parse.urlsplit(service_url).scheme != "http":
            raise NodeUnavailable(f"BITCOIN_RPC_URL must be an http:// URL, got {_redacted(service_url)}")
        self.service_url = service_url
        self.url = _redacted(service_url)
        self.network = network if isinstance(network, Network) else network_named(network)
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._sleep = sleep
        self._proxy: RawProxy | None = None
        self._network_checked = False

    @classmethod
    def from_settings(cls, **options: Any) -> RpcChainSource:
        """The node of BITCOIN_RPC_URL on BITCOIN_NETWORK; `options` as for the constructor."""
        from django.conf import settings

        return cls(settings.BITCOIN_RPC_URL, network=settings.BITCOIN_NETWORK, **options)

    # Transport

    def close(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, method: str, *params: Any, retry: bool = True) -> Any:
        """One JSON-RPC call. Transport failures are retried (unless `retry` is False, for calls
        that must not run twice) and end in `NodeUnavailable`; an error answer raises `NodeRpcError`."""
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            try:
                if self._proxy is None:
                    self._proxy = RawProxy(service_url=self.service_url, timeout=self.timeout_seconds)
                return getattr(self._proxy, method)(*params)
            except JSONRPCError as error:
                code = error.error.get("code")
                message = str(error.error.get("message"))
                if code not in _TRANSPORT_ERROR_CODES and code != _WARMUP_ERROR_CODE:
                    raise NodeRpcError(message, rpc_code=int(code), method=method) from None
                if "'401 " in message or "'403 " in message:
                    self.close()
                    raise NodeUnavailable(f"bitcoin node at {self.url} refused the credentials ({method})") from None
                failure = f"{message} (rpc code {code})"
            except (OSError, http.client.HTTPException) as error:
                failure = f"{type(error).__name__}: {error}".rstrip(": ")
            # The connection may be half-used after a failure: start the next attempt afresh.
            self.close()
            if attempt + 1 < attempts:
                delay = min(self.max_backoff_seconds, self.backoff_seconds * 2**attempt)
                logger.warning("bitcoin node %s: %s failed (%s); retrying in %.1fs", self.url, method, failure, delay)
                self._sleep(delay)
        raise NodeUnavailable(
            f"bitcoin node at {self.url} did not answer {method} after {attempts} attempts: {failure}"
        )

    # Network identity

    def genesis_hash(self) -> str:
        return str(self.call("getblockhash", 0))

    def check_network(self) -> None:
        """Raise `WrongNetwork` unless the node's genesis block is one of the configured network's."""
        genesis = self.genesis_hash()
        if genesis not in self.network.genesis_hashes:
            actual = next((name for name, net in NETWORKS.items() if genesis in net.genesis_hashes), "an unknown chain")
            raise WrongNetwork(
                f"bitcoin node at {self.url} follows {actual} (genesis {genesis}), "
                f"but BITCOIN_NETWORK is {self.network.name}"
            )
        self._network_checked = True

    def _chain_call(self, method: str, *params: Any) -> Any:
        # No chain data is used before the node has shown it is on our network.
        if not self._network_checked:
            self.check_network()
        return self.call(method, *params)

    # Chain data

    def block_count(self) -> int:
        return int(self._chain_call("getblockcount"))

    def block_hash(self, height: int) -> str:
        return str(self._chain_call("getblockhash", height))

    def raw_block(self, block_hash: str) -> bytes:
        """The serialized block (with witnesses); its header must hash to `block_hash`."""
        raw = bytes.fromhex(self._chain_call("getblock", block_hash, 0))
        self._check_header_hash(raw, block_hash)
        return raw

    def raw_block_header(self, block_hash: str) -> bytes:
        raw = bytes.fromhex(self._chain_call("getblockheader", block_hash, False))
        self._check_header_hash(raw, block_hash)
        return raw

    def mempool_txids(self) -> set[str]:
        return {str(txid) for txid in self._chain_call("getrawmempool")}

    def txout_proof(self, txids: Sequence[str], block_hash: str | None = None) -> bytes:
        """Serialized CMerkleBlock proving `txids`; check it with `reserve.chain.merkle.verify_merkle_proof`."""
        params: list[Any] = [list(txids)] + ([block_hash] if block_hash else [])
        return bytes.fromhex(self._chain_call("gettxoutproof", *params))

    def fee_rate_sat_per_kvb(self, *, target_blocks: int = 6) -> int | None:
        """The node's `estimatesmartfee` in satoshis per 1000 virtual bytes; None when it has no
        estimate (a young regtest chain, or a node that answers with an error)."""
        try:
            answer = self._chain_call("estimatesmartfee", target_blocks)
        except NodeRpcError:
            return None
        # Bitcoin Core answers {"feerate": BTC/kvB} (or "errors"); bcoin 1.0 {"fee": BTC/kvB or -1}.
        rate = answer.get("feerate", answer.get("fee")) if isinstance(answer, dict) else None
        if rate is None or Decimal(str(rate)) <= 0:
            return None
        return int(Decimal(str(rate)) * 100_000_000)

    def in_mempool(self, txid: str) -> bool:
        try:
            self._chain_call("getmempoolentry", txid)
        except NodeRpcError:
            return False
        return True

    def send_raw_transaction(self, transaction: bytes | str, *, acceptance_timeout_seconds: float = 5.0) -> str:
        """Broadcast (never retried: a second send is the caller's decision); returns the txid once
        the node holds the transaction in its mempool.

        Bitcoin Core answers a rejection with an error; bcoin 1.0 answers with the txid before
        validating and drops an invalid transaction silently. Both are held to the same test:
        the transaction must show up in the mempool, else `NodeRpcError` (code -26, rejected).
        """
        hex_tx = transaction if isinstance(transaction, str) else transaction.hex()
        if not self._network_checked:
            self.check_network()
        txid = str(self.call("sendrawtransaction", hex_tx, retry=False))
        deadline = time.monotonic() + acceptance_timeout_seconds
        while not self.in_mempool(txid):
            if time.monotonic() >= deadline:
                raise NodeRpcError(
                    f"the node did not accept transaction {txid} into its mempool (its log says why)",
                    rpc_code=_REJECTED_ERROR_CODE,
                    method="sendrawtransaction",
                )
            self._sleep(0.02)
        return txid

    def _check_header_hash(self, raw: bytes, block_hash: str) -> None:
        header = parse_header(raw)
        if header.hash != block_hash:
            raise BlockVerificationError(f"node returned block {header.hash} instead", block_hash=block_hash)
