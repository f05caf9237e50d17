"""BIP-322 generic signed messages, verified with embit: the virtual `to_spend` / `to_sign`
transactions, and the witness (or scriptSig and witness) that satisfies `to_spend`'s output.

Two encodings (BIP-322 "Full" and "Simple"): the base64 of the whole signed `to_sign`
transaction, or only its witness stack for a native segwit address (the verifier rebuilds the
rest). The scripts a reserve uses are checked the way consensus would run them:
- P2WPKH: `<signature> <pubkey>`, BIP143 signature hash over the P2PKH script code;
- P2SH-P2WPKH: the scriptSig pushes the redeem script `0 <20 bytes>`, then as P2WPKH (Full only);
- P2WSH multisig: `<> <sig>... <witnessScript>` with `m <pubkey>... n CHECKMULTISIG`, the
  quorum's signatures in key order as CHECKMULTISIG matches them;
- P2TR key path: one BIP340 signature over the BIP341 signature hash, by the output key.
Amounts are 0 (the virtual output), so a signature here can never spend real coins.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from io import BytesIO

from embit import ec
from embit.hashes import hash160, sha256, tagged_hash
from embit.script import Script, Witness
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from reserve.custody.addresses import ParsedAddress

OP_0 = 0x00
OP_RETURN = 0x6A
OP_CHECKMULTISIG = 0xAE
MAX_SIGNATURE_BYTES = 100_000


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    method: str  # "signmessage" (P2PKH), "bip322-simple" or "bip322-full"
    reason: str  # empty when valid


def message_hash(message: str) -> bytes:
    """The BIP340-tagged hash of the message (tag `BIP0322-signed-message`)."""
    return tagged_hash("BIP0322-signed-message", message.encode("utf-8"))


def to_spend(*, script_pubkey: bytes, message: str) -> Transaction:
    """The virtual transaction whose only output the signer "spends"."""
    script_sig = Script(bytes([OP_0, 32]) + message_hash(message))
    txin = TransactionInput(b"\x00" * 32, 0xFFFFFFFF, script_sig=script_sig, sequence=0)
    return Transaction(version=0, vin=[txin], vout=[TransactionOutput(0, Script(script_pubkey))], locktime=0)


def to_sign(*, script_pubkey: bytes, message: str) -> Transaction:
    """The unsigned `to_sign` of the Simple form: spends `to_spend`'s output to one OP_RETURN."""
    spent = to_spend(script_pubkey=script_pubkey, message=message)
    txin = TransactionInput(spent.txid(), 0, sequence=0)
    return Transaction(version=0, vin=[txin], vout=[TransactionOutput(0, Script(bytes([OP_RETURN])))], locktime=0)


def encode_simple(witness: list[bytes]) -> str:
    return base64.b64encode(Witness(witness).serialize()).decode("ascii")


def encode_full(transaction: Transaction) -> str:
    return base64.b64encode(transaction.serialize()).decode("ascii")


class Refused(Exception):
    """A reason the signature does not prove control (raised inside, returned as a check)."""


@dataclass(frozen=True)
class Spending:
    """The input whose witness is checked, and what every input of its transaction spends
    (BIP341 commits to all of them; BIP143 to this one's amount)."""

    index: int
    script_pubkeys: list[bytes]
    values: list[int]

    @property
    def value(self) -> int:
        return self.values[self.index]


def _read_all(raw: bytes, reader: type[Transaction] | type[Witness]) -> Transaction | Witness | None:
    stream = BytesIO(raw)
    try:
        parsed = reader.read_from(stream)
    except Exception:  # noqa: BLE001 - any malformed encoding is a refused signature, not an error
        return None
    # embit reads short items without complaint: only a canonical, complete encoding is accepted
    return parsed if parsed.serialize() == raw else None


def _decode(raw: bytes, *, expected: Transaction) -> tuple[str, Transaction]:
    """The signed `to_sign` from either encoding: Full (a segwit transaction) or Simple (a witness)."""
    full = _read_all(raw, Transaction) if len(raw) > 10 and raw[4:6] == b"\x00\x01" else None
    if isinstance(full, Transaction):
        return "bip322-full", full
    witness = _read_all(raw, Witness)
    if not isinstance(witness, Witness) or not witness.items:
        raise Refused("is neither a base64 BIP-322 witness (Simple) nor a signed to_sign transaction (Full)")
    expected.vin[0].witness = witness
    return "bip322-simple", expected


def _spends_to_spend(full: Transaction, expected: Transaction) -> None:
    """A Full `to_sign` spends this message's `to_spend` only, to one OP_RETURN of 0 sats."""
    if len(full.vin) != 1:
        raise Refused("a Full signature spends exactly one input here (to_spend's output)")
    txin = full.vin[0]
    if (txin.txid, txin.vout) != (expected.vin[0].txid, 0):
        raise Refused("its to_sign does not spend this message's to_spend (another challenge or address)")
    if len(full.vout) != 1 or full.vout[0].value != 0 or full.vout[0].script_pubkey.data != bytes([OP_RETURN]):
        raise Refused("its to_sign must have exactly one output: 0 sats to OP_RETURN")


def _ecdsa(signature: bytes, pubkey: bytes, digest: bytes) -> bool:
    if len(pubkey) != 33 or pubkey[0] not in (2, 3):
        raise Refused("a segwit public key must be compressed (33 bytes)")
    try:
        key = ec.PublicKey.parse(pubkey)
        parsed = ec.Signature.parse(signature)
    except Exception:  # noqa: BLE001 - not a point or not DER: refused
        return False
    if parsed.serialize() != signature:
        raise Refused("a signature is not strict DER")
    return key.verify(parsed, digest)


def _ecdsa_sighash_type(signature: bytes) -> tuple[bytes, int]:
    if len(signature) < 9:
        raise Refused("a signature is too short to be DER")
    if signature[-1] != SIGHASH.ALL:
        raise Refused("every signature must use SIGHASH_ALL")
    return signature[:-1], SIGHASH.ALL


def _p2wpkh(tx: Transaction, spending: Spending, program: bytes, address: str) -> None:
    stack = tx.vin[spending.index].witness.items
    if len(stack) != 2:
        raise Refused("a P2WPKH witness has exactly two items (signature, public key)")
    signature, pubkey = stack
    if hash160(pubkey) != program:
        raise Refused(f"was not made by the key of {address} (wrong key)")
    der, sighash = _ecdsa_sighash_type(signature)
    script_code = Script(b"\x76\xa9\x14" + program + b"\x88\xac")
    if not _ecdsa(der, pubkey, tx.sighash_segwit(spending.index, script_code, spending.value, sighash)):
        raise Refused("does not verify over this message (another challenge, or a wrong key)")


def multisig_script(script: bytes) -> tuple[int, list[bytes]]:
    """(m, public keys) of a bare `m <pubkey>... n OP_CHECKMULTISIG` script, else refused."""
    if len(script) < 3 or script[-1] != OP_CHECKMULTISIG or not 0x51 <= script[0] <= 0x60:
        raise Refused("the witness script is not an m-of-n CHECKMULTISIG")
    quorum, keys, position = script[0] - 0x50, [], 1
    while position < len(script) - 2:
        if script[position] != 33:
            raise Refused("the witness script's keys must be compressed (33 bytes)")
        keys.append(script[position + 1 : position + 34])
        position += 34
    if position != len(script) - 2 or script[position] != 0x50 + len(keys) or not 1 <= quorum <= len(keys) <= 16:
        raise Refused("the witness script is not an m-of-n CHECKMULTISIG")
    return quorum, keys


def _p2wsh(tx: Transaction, spending: Spending, program: bytes, address: str) -> None:
    stack = tx.vin[spending.index].witness.items
    if len(stack) < 3:
        raise Refused("a P2WSH multisig witness is <empty> <signature>... <witness script>")
    witness_script = stack[-1]
    if sha256(witness_script) != program:
        raise Refused(f"the witness script is not the one {address} commits to")
    quorum, keys = multisig_script(witness_script)
    if stack[0] != b"":
        raise Refused("the CHECKMULTISIG dummy element must be empty (BIP147)")
    signatures = stack[1:-1]
    if len(signatures) != quorum:
        raise Refused(f"needs {quorum} signatures of its {len(keys)} cosigners, got {len(signatures)}")
    digest = tx.sighash_segwit(spending.index, Script(witness_script), spending.value, SIGHASH.ALL)
    remaining = list(keys)
    for number, signature in enumerate(signatures, start=1):
        der, _ = _ecdsa_sighash_type(signature)
        while remaining and not _ecdsa(der, remaining[0], digest):
            remaining.pop(0)
        if not remaining:
            raise Refused(
                f"signature {number} is by none of the remaining cosigners' keys in script order "
                "(a wrong key, another challenge, or signatures out of order)"
            )
        remaining.pop(0)


def _p2tr(tx: Transaction, spending: Spending, output_key: bytes) -> None:
    stack = tx.vin[spending.index].witness.items
    if len(stack) >= 2 and stack[-1][:1] == b"\x50":
        raise Refused("a witness with an annex is not accepted")
    if len(stack) != 1:
        raise Refused("only the taproot key path is accepted (one signature, no script)")
    signature = stack[0]
    if len(signature) == 64:
        sighash = SIGHASH.DEFAULT
    elif len(signature) == 65 and signature[-1] == SIGHASH.ALL:
        sighash = SIGHASH.ALL
    else:
        raise Refused("a taproot signature is 64 bytes (SIGHASH_DEFAULT) or 65 ending in SIGHASH_ALL")
    scripts = [Script(script) for script in spending.script_pubkeys]
    digest = tx.sighash_taproot(spending.index, scripts, spending.values, sighash)
    try:
        key = ec.PublicKey.from_xonly(output_key)
    except Exception:  # noqa: BLE001 - not on the curve
        raise Refused("the output key is not a point on the curve") from None
    if not key.schnorr_verify(ec.SchnorrSig(signature[:64]), digest):
        raise Refused("does not verify over this message (another challenge, or a wrong key)")


def satisfies(tx: Transaction, spending: Spending, address: ParsedAddress) -> None:
    """The input's scriptSig and witness satisfy `address`'s script (the kinds above), else Refused."""
    script = address.script_pubkey
    txin = tx.vin[spending.index]
    if address.kind == "p2sh":
        redeem = txin.script_sig.data
        if len(redeem) != 23 or redeem[:2] != b"\x16\x00" or redeem[2] != 20:
            raise Refused("a P2SH signature here is P2SH-P2WPKH: the scriptSig pushes `0 <20-byte key hash>`")
        if hash160(redeem[1:]) != script[2:22]:
            raise Refused(f"the redeem script is not the one {address.address} commits to (wrong key)")
        _p2wpkh(tx, spending, redeem[3:], address.address)
        return
    if txin.script_sig.data:
        raise Refused("a native segwit spend has an empty scriptSig")
    if address.kind == "p2wpkh":
        _p2wpkh(tx, spending, script[2:], address.address)
    elif address.kind == "p2wsh":
        _p2wsh(tx, spending, script[2:], address.address)
    elif address.kind == "p2tr":
        _p2tr(tx, spending, script[2:])
    else:
        raise Refused(f"{address.kind.upper()} addresses have no BIP-322 verification here")


def verify_bip322(*, address: ParsedAddress, message: str, signature: str) -> SignatureCheck:
    """Whether `signature` (Full or Simple, base64) proves control of `address` over `message`."""
    method = "bip322"
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return SignatureCheck(False, method, "is not base64")
    try:
        if len(raw) > MAX_SIGNATURE_BYTES:
            raise Refused(f"is longer than {MAX_SIGNATURE_BYTES} bytes")
        expected = to_sign(script_pubkey=address.script_pubkey, message=message)
        method, signed = _decode(raw, expected=expected)
        if method == "bip322-full":
            _spends_to_spend(signed, expected)
        elif address.kind == "p2sh":
            raise Refused("a P2SH-P2WPKH address signs in the Full form (its scriptSig is part of the proof)")
        satisfies(signed, Spending(0, [address.script_pubkey], [0]), address)
    except Refused as refused:
        return SignatureCheck(False, method, str(refused))
    return SignatureCheck(True, method, "")
