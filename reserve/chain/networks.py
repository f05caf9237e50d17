"""Consensus constants per network: genesis block hash and proof-of-work limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    name: str
    # Display-order (RPC) hashes of the genesis blocks a node on this network may report.
    genesis_hashes: frozenset[str]
    pow_limit: int


_MAINNET_GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
_TESTNET3_GENESIS = "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"
_TESTNET4_GENESIS = "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"
_SIGNET_GENESIS = "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"
_REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"

NETWORKS: dict[str, Network] = {
    "mainnet": Network("mainnet", frozenset({_MAINNET_GENESIS}), (1 << 224) - 1),
    # BITCOIN_NETWORK=testnet accepts testnet3 and testnet4: same address format and pow limit.
    "testnet": Network("testnet", frozenset({_TESTNET3_GENESIS, _TESTNET4_GENESIS}), (1 << 224) - 1),
    # Every signet (default or custom challenge) shares this genesis block.
    "signet": Network("signet", frozenset({_SIGNET_GENESIS}), 0x377AE << 216),
    # Bitcoin Core's regtest limit is 0x7fff...ff; blocks are mined at bits 0x207fffff.
    "regtest": Network("regtest", frozenset({_REGTEST_GENESIS}), (1 << 255) - 1),
}


def network_named(name: str) -> Network:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown bitcoin network {name!r}; expected one of {sorted(NETWORKS)}") from None
