"""Private key material in text: the one detector every app uses (DESIGN.md non-negotiable 4).

The service is watch-only, so no text it stores may hold a private key. `private_key_in` finds,
anywhere in a text (as a word, glued to other characters, inside a descriptor):

- a WIF secret: base58check (python-bitcoinlib) with version 0x80 (mainnet) or 0xEF (testnet,
  signet, regtest) and a 32-byte payload, or 33 bytes ending in 0x01 (compressed);
- an extended private key: base58check over 78 bytes whose version is a BIP32 / SLIP-132 private
  one (xprv tprv yprv zprv uprv vprv Yprv Zprv Uprv Vprv), and, checksum or not, any word that
  is spelt like one (a mistyped xprv is still mostly a secret);
- where `hex32` is on, a bare 32-byte hex value (64 hex digits, optionally 0x-prefixed, not part
  of a longer hex or alphanumeric run), unless `hex_allowed` says it is a hash the caller knows.
  32 random bytes are exactly what a raw secret key looks like; a txid or block hash that the
  books know was made by the chain, so free text may cite those and nothing else of that shape
  (docs/SECURITY.md, way 7).

It does not find keys split across words, encoded otherwise (base64, mnemonics), or hidden on
purpose: it stops the mistake and the careless paste, and a stored key is refused, not kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bitcoin import base58

from config.errors import ValidationFailed

PRIVATE_KEY_EXPLANATION = (
    "this is private key material; Reserve Ledger is watch-only and never accepts private keys. "
    "Nothing was stored. Export the public part instead (xpub/tpub with its origin, or an address), "
    "and treat the pasted key as exposed"
)

WIF_VERSIONS = frozenset({0x80, 0xEF})
# BIP32 / SLIP-132 version bytes of extended private keys, mainnet then testnet.
XPRV_VERSIONS = frozenset(
    bytes.fromhex(version)
    for version in (
        "0488ade4",  # xprv
        "049d7878",  # yprv
        "04b2430c",  # zprv
        "0295b005",  # Yprv
        "02aa7a99",  # Zprv
        "04358394",  # tprv
        "044a4e28",  # uprv
        "045f18bc",  # vprv
        "024285b5",  # Uprv
        "02575048",  # Vprv
    )
)

_BASE58_RUN = re.compile(r"[1-9A-HJ-NP-Za-km-z]{51,}")
_XPRV_SPELLING = re.compile(r"[xtyzuvYZUV]prv[1-9A-HJ-NP-Za-km-z]{100,112}")
_HEX32 = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?([0-9a-fA-F]{64})(?![0-9A-Za-z])")
# First characters of a WIF (5 and 9 uncompressed, K L c compressed) and the lengths to try.
_WIF_STARTS, _WIF_LENGTHS = frozenset("5KLc9"), (51, 52)
_XPRV_LENGTHS = (111, 112)

# What was found, as the error message says it. An extended key is named by its four-letter
# prefix ("tprv…"), which says which key it is and reveals nothing of it.
WIF = "a WIF private key"
EXTENDED_PRIVATE = "…"  # the suffix of "xprv…", "tprv…", ...
HEX_VALUE = (
    "a 32-byte hex value that may be a raw private key (only txids and block hashes the books know are accepted)"
)


def _decoded(candidate: str) -> bytes | None:
    """The base58check payload (version byte included), or None if the checksum fails."""
    try:
        data = base58.CBase58Data(candidate)
    except (base58.Base58Error, ValueError):
        return None
    return bytes([data.nVersion]) + bytes(data)


def _private_in_run(run: str) -> str | None:
    for start in range(len(run) - min(_WIF_LENGTHS) + 1):
        first = run[start]
        if first in _WIF_STARTS:
            for length in _WIF_LENGTHS:
                payload = _decoded(run[start : start + length]) if start + length <= len(run) else None
                if (
                    payload is not None
                    and payload[0] in WIF_VERSIONS
                    and (len(payload) == 33 or (len(payload) == 34 and payload[33] == 0x01))
                ):
                    return WIF
        if run.startswith("prv", start + 1):
            for length in _XPRV_LENGTHS:
                payload = _decoded(run[start : start + length]) if start + length <= len(run) else None
                if payload is not None and len(payload) == 78 and payload[:4] in XPRV_VERSIONS:
                    return run[start : start + 4] + EXTENDED_PRIVATE
    return None


def private_key_in(text: str, *, hex32: bool = True, hex_allowed: Callable[[str], bool] | None = None) -> str | None:
    """What private key material `text` holds ("a WIF private key", "tprv…", ...), or None."""
    if not text:
        return None
    if spelt := _XPRV_SPELLING.search(text):
        return spelt.group()[:4] + EXTENDED_PRIVATE
    for run in _BASE58_RUN.findall(text):
        found = _private_in_run(run)
        if found:
            return found
    if hex32:
        for match in _HEX32.finditer(text):
            if hex_allowed is None or not hex_allowed(match.group(1).lower()):
                return HEX_VALUE
    return None


def private_key_in_json(value: Any) -> str | None:
    """private_key_in over every string (keys and values) of a JSON value, without the hex rule:
    structured values carry hashes and x-only public keys in hex."""
    if isinstance(value, str):
        return private_key_in(value, hex32=False)
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
        return next((found for item in items if (found := private_key_in_json(item))), None)
    if isinstance(value, list | tuple):
        return next((found for item in value if (found := private_key_in_json(item))), None)
    return None


def refuse_private_key(
    *, text: str, field: str, allow_hex32: bool = False, hex_allowed: Callable[[str], bool] | None = None
) -> None:
    """ValidationFailed naming `field` if `text` holds private key material (the key is not echoed)."""
    found = private_key_in(text, hex32=not allow_hex32, hex_allowed=hex_allowed)
    if found:
        raise ValidationFailed.for_field(field, f"{found}: {PRIVATE_KEY_EXPLANATION}")


def is_wif(text: str) -> bool:
    """Is `text`, stripped, exactly one WIF secret?"""
    token = text.strip()
    return len(token) in _WIF_LENGTHS and private_key_in(token, hex32=False) == WIF
