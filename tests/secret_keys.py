"""Private keys for tests of the private-key detector (ledger/secrets.py): real encodings of a
throwaway secret, in every form a careless paste could take."""

from __future__ import annotations

from bitcoin.base58 import CBase58Data
from embit import bip32

from ledger.secrets import XPRV_VERSIONS

_SECRET = bytes(range(1, 33))


def _wif(*, testnet: bool, compressed: bool) -> str:
    # Version 0x80 (mainnet) or 0xEF (testnet), the secret, 0x01 when compressed: base58check.
    return str(CBase58Data.from_bytes(_SECRET + (b"\x01" if compressed else b""), 0xEF if testnet else 0x80))


WIF_MAINNET = _wif(testnet=False, compressed=True)
WIFS = {
    "mainnet compressed": WIF_MAINNET,
    "mainnet uncompressed": _wif(testnet=False, compressed=False),
    "testnet compressed": _wif(testnet=True, compressed=True),
    "testnet uncompressed": _wif(testnet=True, compressed=False),
}
_ROOT = bip32.HDKey.from_seed(_SECRET)
EXTENDED_PRIVATE = {
    (key := bip32.HDKey(_ROOT.key, _ROOT.chain_code, version=version).to_base58())[:4]: key
    for version in sorted(XPRV_VERSIONS)
}
TPRV = EXTENDED_PRIVATE["tprv"]
XPUB = _ROOT.to_public().to_base58()
HEX_SECRET = _SECRET.hex()
