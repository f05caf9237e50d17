"""Test signing keys for proofs of reserves: P2PKH and P2WPKH regtest addresses and their signatures."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from bitcoin import segwit_addr
from bitcoin.base58 import CBase58Data
from bitcoin.core import Hash160
from bitcoin.core.script import SIGHASH_ALL
from bitcoin.signmessage import BitcoinMessage, SignMessage
from bitcoin.wallet import CKey
from embit.script import Script
from embit.transaction import SIGHASH

from reserve.custody.addresses import parse_address
from reserve.proofs.bip322 import encode_simple, to_sign


@dataclass(frozen=True)
class SigningKey:
    label: str

    @cached_property
    def key(self) -> CKey:
        return CKey(hashlib.sha256(f"reserve-ledger api test key {self.label}".encode()).digest(), compressed=True)

    @property
    def p2pkh_address(self) -> str:
        return str(CBase58Data.from_bytes(bytes(Hash160(bytes(self.key.pub))), 0x6F))

    @property
    def p2wpkh_address(self) -> str:
        return str(segwit_addr.encode("bcrt", 0, bytes(Hash160(bytes(self.key.pub)))))

    def signmessage(self, message: str) -> str:
        return SignMessage(self.key, BitcoinMessage(message)).decode("ascii")

    def bip322(self, message: str) -> str:
        script = parse_address(address=self.p2wpkh_address, network="regtest").script_pubkey
        script_code = Script(b"\x76\xa9\x14" + script[2:22] + b"\x88\xac")
        digest = to_sign(script_pubkey=script, message=message).sighash_segwit(0, script_code, 0, SIGHASH.ALL)
        return encode_simple([self.key.sign(digest) + bytes([SIGHASH_ALL]), bytes(self.key.pub)])
