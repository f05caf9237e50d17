"""Deterministic test keys with their regtest scripts and addresses (Bitcoin Core's prefixes).

Nothing here calls `bitcoin.SelectParams`: addresses are encoded with explicit prefixes
(bech32 "bcrt", base58 0x6f), so python-bitcoinlib's global network stays untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from bitcoin import segwit_addr
from bitcoin.base58 import CBase58Data
from bitcoin.core import Hash160
from bitcoin.core.script import OP_0, OP_CHECKSIG, OP_DUP, OP_EQUALVERIFY, OP_HASH160, CScript
from bitcoin.wallet import CKey

REGTEST_BECH32_HRP = "bcrt"
REGTEST_PUBKEY_HASH_PREFIX = 0x6F


@dataclass(frozen=True)
class WalletKey:
    """A compressed secp256k1 key; `label` makes it reproducible across runs."""

    label: str

    @cached_property
    def key(self) -> CKey:
        return CKey(hashlib.sha256(f"reserve-ledger test key {self.label}".encode()).digest(), compressed=True)

    @property
    def pubkey(self) -> bytes:
        return bytes(self.key.pub)

    @property
    def pubkey_hash(self) -> bytes:
        return bytes(Hash160(self.pubkey))

    @property
    def p2wpkh_script(self) -> bytes:
        return bytes(CScript([OP_0, self.pubkey_hash]))

    @property
    def p2wpkh_address(self) -> str:
        address = segwit_addr.encode(REGTEST_BECH32_HRP, 0, self.pubkey_hash)
        assert address is not None
        return str(address)

    @property
    def p2pkh_script(self) -> bytes:
        return bytes(CScript([OP_DUP, OP_HASH160, self.pubkey_hash, OP_EQUALVERIFY, OP_CHECKSIG]))

    @property
    def p2pkh_address(self) -> str:
        return str(CBase58Data.from_bytes(self.pubkey_hash, REGTEST_PUBKEY_HASH_PREFIX))
