"""Judging a custodian's PSBT against the one the service built, combining the signatures it
accepts, and finalizing. Pure (no database). The service trusts nothing of the upload but its
signatures: the sighash of each is computed from the PSBT it built itself, and every other field
of the upload must equal what was built (embit's reader fills defaults for some fields, so the
global unsigned transaction is compared byte for byte as read from the upload's own bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

from embit import ec
from embit.psbt import PSBT, InputScope, PSBTError, read_string
from embit.script import Script, Witness
from embit.transaction import SIGHASH, Transaction

PSBT_GLOBAL_UNSIGNED_TX = b"\x00"
PSBT_GLOBAL_VERSION = b"\xfb"
PSBT_GLOBAL_TX_MODIFIABLE = b"\x06"
PSBT_IN_TAP_KEY_SIG = b"\x13"
PROPRIETARY = 0xFC


class PsbtRefused(Exception):
    """The upload differs from what was built, or a signature does not hold; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class InputSignatures:
    """Valid signatures on one input: ECDSA by public key (sec), or the taproot key-path one."""

    ecdsa: dict[bytes, bytes] = field(default_factory=dict)
    taproot_key: bytes | None = None

    def count(self) -> int:
        return len(self.ecdsa) + (1 if self.taproot_key else 0)


def _global_map(raw: bytes) -> dict[bytes, bytes]:
    stream = BytesIO(raw)
    if stream.read(5) != PSBT.MAGIC:
        raise PsbtRefused("not a PSBT (bad magic bytes)")
    found: dict[bytes, bytes] = {}
    while True:
        key = read_string(stream)
        if not key:
            return found
        if key in found:
            raise PsbtRefused(f"global key {key.hex()} appears twice")
        found[key] = read_string(stream)


def psbt_parse(raw: bytes) -> PSBT:
    try:
        return PSBT.parse(raw)
    except (PSBTError, ValueError, IndexError, TypeError, AssertionError) as error:
        raise PsbtRefused(f"malformed PSBT: {error}") from None
    except Exception as error:  # noqa: BLE001 - embit raises plain exceptions for bad bytes
        raise PsbtRefused(f"malformed PSBT: {error}") from None


def _check_unsigned(raw: bytes, upload: PSBT, built: PSBT, built_tx: bytes) -> None:
    """The upload's unsigned transaction is the built one, field by field."""
    globals_ = _global_map(raw)
    version = int.from_bytes(globals_.get(PSBT_GLOBAL_VERSION, b"\x00"), "little")
    if version not in (0, 2):
        raise PsbtRefused(f"PSBT version {version} is not 0 or 2")
    if version == 0:
        if globals_.get(PSBT_GLOBAL_UNSIGNED_TX) != built_tx:
            raise PsbtRefused(
                _difference(Transaction.parse(globals_[PSBT_GLOBAL_UNSIGNED_TX]), built)
                if PSBT_GLOBAL_UNSIGNED_TX in globals_
                else "the unsigned transaction is missing"
            )
        return
    modifiable = globals_.get(PSBT_GLOBAL_TX_MODIFIABLE)
    if modifiable is not None and modifiable != b"\x00":
        raise PsbtRefused(f"PSBT v2 with modifiable flags 0x{modifiable.hex()}: inputs and outputs are fixed")
    # v2 carries the transaction in per-field keys; embit defaults the missing ones, so require them.
    if upload.tx_version is None or any(
        scope.txid is None or scope.vout is None or scope.sequence is None for scope in upload.inputs
    ):
        raise PsbtRefused("PSBT v2 without its transaction version or an input's outpoint or sequence")
    if upload.locktime is None:
        raise PsbtRefused("PSBT v2 without a fallback locktime")
    if upload.tx.serialize() != built_tx:
        raise PsbtRefused(_difference(upload.tx, built))


def _difference(tx: Transaction, built: PSBT) -> str:
    """The first field in which `tx` differs from the built transaction, for the refusal."""
    expected = built.tx
    if tx.version != expected.version:
        return f"transaction version {tx.version} differs from the built {expected.version}"
    if tx.locktime != expected.locktime:
        return f"locktime {tx.locktime} differs from the built {expected.locktime}"
    if len(tx.vin) != len(expected.vin):
        return f"{len(tx.vin)} inputs where {len(expected.vin)} were built"
    for index, (got, want) in enumerate(zip(tx.vin, expected.vin, strict=True)):
        if (got.txid, got.vout) != (want.txid, want.vout):
            return f"input {index} spends {got.txid.hex()}:{got.vout}, not the built {want.txid.hex()}:{want.vout}"
        if got.sequence != want.sequence:
            return f"input {index} has sequence {got.sequence:#x}, not the built {want.sequence:#x}"
        if got.script_sig.data or (got.witness and got.witness.items):
            return f"input {index} of the unsigned transaction carries a script"
    if len(tx.vout) != len(expected.vout):
        return f"{len(tx.vout)} outputs where {len(expected.vout)} were built"
    for index, (got_out, want_out) in enumerate(zip(tx.vout, expected.vout, strict=True)):
        if got_out.script_pubkey.data != want_out.script_pubkey.data:
            return f"output {index} pays another script than the built one"
        if got_out.value != want_out.value:
            return f"output {index} pays {got_out.value} sats, not the built {want_out.value}"
    return "the unsigned transaction differs from the one built for this transfer"


def _same(a: object, b: object) -> bool:
    serialize = getattr(a, "serialize", None)
    return a == b if serialize is None else b is not None and serialize() == b.serialize()  # type: ignore[attr-defined]


def _check_input_data(index: int, got: InputScope, want: InputScope) -> None:
    if got.non_witness_utxo is not None:
        if got.non_witness_utxo.txid() != want.txid:
            raise PsbtRefused(f"input {index}: non_witness_utxo does not hash to the spent txid {want.txid.hex()}")
        if not _same(got.non_witness_utxo, want.non_witness_utxo):
            raise PsbtRefused(f"input {index}: non_witness_utxo differs from the transaction the coin came from")
    if got.witness_utxo is not None and not _same(got.witness_utxo, want.witness_utxo):
        raise PsbtRefused(f"input {index}: witness_utxo differs from the coin spent (amount or script)")
    for name in ("redeem_script", "witness_script"):
        value = getattr(got, name)
        if value is not None and not _same(value, getattr(want, name)):
            raise PsbtRefused(f"input {index}: {name} differs from the one the wallet's descriptor derives")
    if got.final_scriptsig is not None and got.final_scriptsig.data:
        raise PsbtRefused(f"input {index} is finalized; upload partial signatures, the service finalizes")
    unknown = [key for key in got.unknown if key[0] != PROPRIETARY and key != PSBT_IN_TAP_KEY_SIG]
    if unknown or got.taproot_sigs or got.taproot_scripts:
        raise PsbtRefused(f"input {index} carries fields the built PSBT has no use for")


def _ecdsa_signatures(index: int, got: InputScope, want: InputScope, sighash_all: bytes) -> dict[bytes, bytes]:
    known = {pub.sec(): derivation for pub, derivation in want.bip32_derivations.items()}
    accepted: dict[bytes, bytes] = {}
    for pub, signature in got.partial_sigs.items():
        sec = pub.sec()
        if sec not in known:
            raise PsbtRefused(f"input {index}: signature by {sec.hex()}, a key outside the wallet's descriptor")
        if not signature or signature[-1] != SIGHASH.ALL:
            flag = signature[-1] if signature else None
            raise PsbtRefused(f"input {index}: signature with sighash {flag!r}; only SIGHASH_ALL (1) is accepted")
        try:
            parsed = ec.Signature.parse(signature[:-1])
        except Exception:  # noqa: BLE001 - secp256k1 refuses bad DER with a plain error
            raise PsbtRefused(f"input {index}: signature by {sec.hex()} is not DER") from None
        if parsed.serialize() != signature[:-1]:
            raise PsbtRefused(f"input {index}: signature by {sec.hex()} is not strict DER")
        if not pub.verify(parsed, sighash_all):
            raise PsbtRefused(f"input {index}: signature by {sec.hex()} does not verify against its BIP-143 sighash")
        accepted[sec] = signature
    return accepted


def _taproot_signature(index: int, got: InputScope, want: InputScope, built: PSBT) -> bytes | None:
    signature = got.unknown.get(PSBT_IN_TAP_KEY_SIG)
    if signature is None and got.final_scriptwitness is not None and got.final_scriptwitness.items:
        # embit's signer writes the key-path signature as the final witness.
        if len(got.final_scriptwitness.items) != 1:
            raise PsbtRefused(f"input {index}: a key-path spend has a one-item witness")
        signature = got.final_scriptwitness.items[0]
    if signature is None:
        return None
    if len(signature) == 64:
        sighash = SIGHASH.DEFAULT
    elif len(signature) == 65 and signature[-1] == SIGHASH.ALL:
        sighash = SIGHASH.ALL
    else:
        flag = signature[-1] if len(signature) == 65 else None
        raise PsbtRefused(f"input {index}: taproot signature with sighash {flag!r}; only DEFAULT or ALL")
    output_key = ec.PublicKey.from_xonly(want.witness_utxo.script_pubkey.data[2:34])
    if not output_key.schnorr_verify(ec.SchnorrSig(signature[:64]), built.sighash(index, sighash=sighash)):
        raise PsbtRefused(f"input {index}: taproot signature does not verify against its BIP-341 sighash")
    return signature


def psbt_signatures(*, raw: bytes, built_raw: bytes, built_tx: bytes) -> list[InputSignatures]:
    """The valid signatures `raw` carries for the PSBT built as `built_raw`, per input; raises
    `PsbtRefused` with the reason for anything that differs from what was built."""
    built = PSBT.parse(built_raw)
    upload = psbt_parse(raw)
    _check_unsigned(raw, upload, built, built_tx)
    if len(upload.inputs) != len(built.inputs) or len(upload.outputs) != len(built.outputs):
        raise PsbtRefused("the number of inputs or outputs differs from the built PSBT")
    found = []
    for index, (got, want) in enumerate(zip(upload.inputs, built.inputs, strict=True)):
        _check_input_data(index, got, want)
        taproot = want.taproot_internal_key is not None
        allowed = (SIGHASH.DEFAULT, SIGHASH.ALL) if taproot else (SIGHASH.ALL,)
        if got.sighash_type is not None and got.sighash_type not in allowed:
            raise PsbtRefused(f"input {index} asks for sighash {got.sighash_type:#x}; only SIGHASH_ALL is accepted")
        signatures = InputSignatures()
        if taproot:
            if got.partial_sigs:
                raise PsbtRefused(f"input {index}: an ECDSA signature on a taproot input")
            signatures.taproot_key = _taproot_signature(index, got, want, built)
        else:
            if got.final_scriptwitness is not None and got.final_scriptwitness.items:
                raise PsbtRefused(f"input {index} is finalized; upload partial signatures, the service finalizes")
            signatures.ecdsa = _ecdsa_signatures(index, got, want, built.sighash(index, sighash=SIGHASH.ALL))
        found.append(signatures)
    return found


def psbt_combine(*, combined_raw: bytes, signatures: list[InputSignatures]) -> bytes:
    """`combined_raw` (the built PSBT with the signatures accepted so far) with `signatures` added."""
    combined = PSBT.parse(combined_raw)
    for scope, found in zip(combined.inputs, signatures, strict=True):
        for sec, signature in found.ecdsa.items():
            scope.partial_sigs[ec.PublicKey.parse(sec)] = signature
        if found.taproot_key is not None:
            scope.unknown[PSBT_IN_TAP_KEY_SIG] = found.taproot_key
    return bytes(combined.serialize())


def cosigner_fingerprints(combined: PSBT) -> list[set[str]]:
    """Per input, the master fingerprints (hex) of the cosigners whose signatures are combined."""
    result = []
    for scope in combined.inputs:
        if scope.taproot_internal_key is not None:
            signed = PSBT_IN_TAP_KEY_SIG in scope.unknown
            result.append(
                {der.fingerprint.hex() for _, (_, der) in scope.taproot_bip32_derivations.items()} if signed else set()
            )
        else:
            result.append({scope.bip32_derivations[pub].fingerprint.hex() for pub in scope.partial_sigs})
    return result


def psbt_finalize(*, combined_raw: bytes, threshold: int) -> Transaction:
    """The signed transaction, each input's witness built from the combined signatures (sorted
    multisig: in the order of the witness script's keys)."""
    combined = PSBT.parse(combined_raw)
    tx = combined.tx
    for index, scope in enumerate(combined.inputs):
        vin = tx.vin[index]
        if scope.taproot_internal_key is not None:
            signature = scope.unknown.get(PSBT_IN_TAP_KEY_SIG)
            if signature is None:
                raise PsbtRefused(f"input {index} is not signed")
            vin.witness = Witness([signature])
            continue
        if scope.redeem_script is not None:
            push = scope.redeem_script.data
            vin.script_sig = Script(bytes([len(push)]) + push)
        if scope.witness_script is None:
            [(pub, signature)] = list(scope.partial_sigs.items()) or [(None, b"")]
            if pub is None:
                raise PsbtRefused(f"input {index} is not signed")
            vin.witness = Witness([signature, pub.sec()])
            continue
        order = [bytes(item) for item in _script_keys(scope.witness_script.data)]
        by_key = {pub.sec(): signature for pub, signature in scope.partial_sigs.items()}
        chosen = [by_key[key] for key in order if key in by_key][:threshold]
        if len(chosen) < threshold:
            raise PsbtRefused(f"input {index} has {len(chosen)} of the {threshold} signatures it needs")
        vin.witness = Witness([b"", *chosen, scope.witness_script.data])
    return tx


def _script_keys(script: bytes) -> list[bytes]:
    # OP_m <33-byte key>... OP_n OP_CHECKMULTISIG
    keys, position = [], 1
    while position < len(script) - 2:
        length = script[position]
        keys.append(script[position + 1 : position + 1 + length])
        position += 1 + length
    return keys
