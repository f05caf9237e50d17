"""Verifying message signatures by the keys behind our addresses.

- P2PKH: the legacy `signmessage` format (Bitcoin Core, Electrum): a 65-byte compact
  signature over python-bitcoinlib's `BitcoinMessage` hash, from which the public key is
  recovered. bitcoinlib's `VerifyMessage` compares address strings encoded with the
  process-wide chain selection (mainnet unless `SelectParams` was called), so a testnet or
  regtest address would never match; we recover the key the same way and compare its
  HASH160 with the one inside the address instead, which is the same check on any network.
- P2WPKH: BIP-322 "simple" signatures (the base64 witness of the virtual `to_sign`
  transaction), verified with a BIP143 signature hash as the BIP specifies.
Every other address type is refused with its reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from io import BytesIO

from bitcoin.core import COutPoint, CTransaction, CTxIn, CTxOut
from bitcoin.core.key import CPubKey
from bitcoin.core.script import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_RETURN,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    IsLowDERSignature,
    SignatureHash,
)
from bitcoin.core.serialize import BytesSerializer, Hash160, VectorSerializer
from bitcoin.signmessage import BitcoinMessage

from reserve.custody.addresses import ParsedAddress

SUPPORTED_KINDS = ("p2pkh", "p2wpkh")
BIP322_TAG = b"BIP0322-signed-message"


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    method: str  # "signmessage" (P2PKH) or "bip322-simple" (P2WPKH)
    reason: str  # empty when valid


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


def bip322_message_hash(message: str) -> bytes:
    tag = hashlib.sha256(BIP322_TAG).digest()
    return hashlib.sha256(tag + tag + message.encode("utf-8")).digest()


def bip322_to_spend(*, script_pubkey: bytes, message: str) -> CTransaction:
    """The virtual transaction whose only output the signer "spends" (BIP-322)."""
    script_sig = CScript([0, bip322_message_hash(message)])
    txin = CTxIn(COutPoint(b"\x00" * 32, 0xFFFFFFFF), script_sig, nSequence=0)
    return CTransaction([txin], [CTxOut(0, CScript(script_pubkey))], nLockTime=0, nVersion=0)


def bip322_to_sign(*, to_spend: CTransaction) -> CTransaction:
    txin = CTxIn(COutPoint(to_spend.GetTxid(), 0), CScript(), nSequence=0)
    return CTransaction([txin], [CTxOut(0, CScript([OP_RETURN]))], nLockTime=0, nVersion=0)


def bip322_sighash(*, script_pubkey: bytes, message: str) -> bytes:
    """The BIP143 hash a P2WPKH key signs in BIP-322 (SIGHASH_ALL, amount 0)."""
    to_sign = bip322_to_sign(to_spend=bip322_to_spend(script_pubkey=script_pubkey, message=message))
    script_code = CScript([OP_DUP, OP_HASH160, script_pubkey[2:22], OP_EQUALVERIFY, OP_CHECKSIG])
    return SignatureHash(script_code, to_sign, 0, SIGHASH_ALL, amount=0, sigversion=SIGVERSION_WITNESS_V0)


def encode_witness(stack: list[bytes]) -> str:
    """A witness stack in consensus encoding, base64: the BIP-322 simple signature format."""
    stream = BytesIO()
    VectorSerializer.stream_serialize(BytesSerializer, stack, stream)
    return base64.b64encode(stream.getvalue()).decode("ascii")


def _decode_witness(raw: bytes) -> list[bytes] | None:
    stream = BytesIO(raw)
    try:
        stack = VectorSerializer.stream_deserialize(BytesSerializer, stream)
    except Exception:  # noqa: BLE001 - any malformed encoding is a refused signature, not an error
        return None
    if stream.read(1):
        return None
    return list(stack)


def verify_bip322_simple(*, address: ParsedAddress, message: str, signature: str) -> SignatureCheck:
    """BIP-322 simple signature over `message` by the key of the P2WPKH `address`."""
    method = "bip322-simple"
    raw = _decode_base64(signature)
    stack = _decode_witness(raw) if raw is not None else None
    if stack is None:
        return _refused(method, "is not a base64 BIP-322 witness")
    if len(stack) != 2:
        return _refused(method, "a P2WPKH witness has exactly two items (signature, public key)")
    der_with_type, pubkey_bytes = stack
    if len(pubkey_bytes) != 33 or pubkey_bytes[0] not in (2, 3):
        return _refused(method, "the public key must be compressed (33 bytes)")
    if Hash160(pubkey_bytes) != address.script_pubkey[2:22]:
        return _refused(method, f"was not made by the key of {address.address} (wrong key)")
    if not der_with_type or der_with_type[-1] != SIGHASH_ALL:
        return _refused(method, "the signature must use SIGHASH_ALL")
    der = der_with_type[:-1]
    if not IsLowDERSignature(der):
        return _refused(method, "the signature is not strict low-S DER")
    pubkey = CPubKey(pubkey_bytes)
    if not pubkey.is_fullyvalid:
        return _refused(method, "the public key is not a point on the curve")
    if not pubkey.verify(bip322_sighash(script_pubkey=address.script_pubkey, message=message), der):
        return _refused(method, "does not verify over this message (another challenge, or a wrong key)")
    return SignatureCheck(valid=True, method=method, reason="")


def verify_message_signature(*, address: ParsedAddress, message: str, signature: str) -> SignatureCheck:
    """Dispatch by address type; types other than P2PKH and P2WPKH are refused with the reason."""
    if address.kind == "p2pkh":
        return verify_signmessage(address=address, message=message, signature=signature)
    if address.kind == "p2wpkh":
        return verify_bip322_simple(address=address, message=message, signature=signature)
    return _refused(
        "unsupported",
        f"{address.kind.upper()} addresses cannot prove control here: only P2PKH (signmessage) and "
        "P2WPKH (BIP-322 simple) signatures are verified",
    )
