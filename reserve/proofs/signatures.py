"""Verifying message signatures by the keys behind our addresses.

- P2PKH: the legacy `signmessage` format (Bitcoin Core, Electrum): a 65-byte compact
  signature over python-bitcoinlib's `BitcoinMessage` hash, from which the public key is
  recovered. bitcoinlib's `VerifyMessage` compares address strings encoded with the
  process-wide chain selection (mainnet unless `SelectParams` was called), so a testnet or
  regtest address would never match; we recover the key the same way and compare its
  HASH160 with the one inside the address instead, which is the same check on any network.
- P2WPKH, P2SH-P2WPKH, P2WSH multisig and P2TR key path: BIP-322 signatures, "simple" (the
  witness) or "full" (the signed virtual transaction), verified in `bip322.py` with embit.
A P2SH script other than P2SH-P2WPKH, or a P2WSH other than multisig, is refused with its reason.
"""

from __future__ import annotations

import base64
import binascii

from bitcoin.core.key import CPubKey
from bitcoin.core.serialize import Hash160
from bitcoin.signmessage import BitcoinMessage

from reserve.custody.addresses import ParsedAddress
from reserve.proofs.bip322 import SignatureCheck, verify_bip322


def _refused(method: str, reason: str) -> SignatureCheck:
    return SignatureCheck(valid=False, method=method, reason=reason)


def _decode_base64(signature: str) -> bytes | None:
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_signmessage(*, address: ParsedAddress, message: str, signature: str) -> SignatureCheck:
    """Legacy signmessage over `message` by the key of the P2PKH `address`."""
    method = "signmessage"
    raw = _decode_base64(signature)
    if raw is None or len(raw) != 65:
        return _refused(method, "is not a base64 compact signature of 65 bytes")
    if not 27 <= raw[0] <= 34:
        return _refused(method, "has an invalid recovery header byte")
    try:
        pubkey = CPubKey.recover_compact(BitcoinMessage(message).GetHash(), raw)
    except ValueError:
        pubkey = False
    if not pubkey:
        return _refused(method, "does not recover a public key")
    expected = address.script_pubkey[3:23]
    if Hash160(bytes(pubkey)) != expected:
        return _refused(method, f"was not made by the key of {address.address} (wrong key or another message)")
    return SignatureCheck(valid=True, method=method, reason="")


def verify_message_signature(*, address: ParsedAddress, message: str, signature: str) -> SignatureCheck:
    """Legacy signmessage for P2PKH, BIP-322 for every segwit type (which refuses other scripts)."""
    if address.kind == "p2pkh":
        return verify_signmessage(address=address, message=message, signature=signature)
    return verify_bip322(address=address, message=message, signature=signature)
