"""The tampering suite: variants of a validly signed PSBT, each refused with its reason by the
verifier that stands between the custodians and the node (reserve/transfers/psbt_verify.py).
Offline and fast: one 2-of-3 wsh(sortedmulti) PSBT and one tr() PSBT, built and signed once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from embit.descriptor import Descriptor
from embit.psbt import PSBT
from embit.script import Script, Witness
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from reserve.transfers.psbt_build import ChangeOutput, SpendableCoin, psbt_assemble, psbt_v2
from reserve.transfers.psbt_verify import (
    PSBT_IN_TAP_KEY_SIG,
    PsbtRefused,
    cosigner_fingerprints,
    psbt_combine,
    psbt_finalize,
    psbt_signatures,
)
from tests.reserve.transfers.signing_keys import COSIGNERS, OUTSIDER, multisig_descriptor, tr_descriptor

DESTINATION = bytes.fromhex("0014" + "11" * 20)


@dataclass(frozen=True)
class Built:
    raw: bytes  # as the service built it
    tx: bytes  # its unsigned transaction
    signed: bytes  # signed by the first two cosigners (tr: by its one key)


def _coin(desc: Descriptor, kind: str, index: int, value: int) -> SpendableCoin:
    child = desc.derive(index, branch_index=0)
    script = child.script_pubkey().data
    prev = Transaction(
        vin=[TransactionInput(bytes([index + 1]) * 32, 0)], vout=[TransactionOutput(value, Script(script))]
    )
    return SpendableCoin(
        txid=prev.txid().hex(), vout=0, value_sats=value, script_pubkey=script, kind=kind, child=child, prev_tx=prev
    )


def _build(descriptor: str, kind: str, *, amount_sats: int = 140_000) -> tuple[bytes, bytes]:
    desc = Descriptor.from_string(descriptor)
    coins = [_coin(desc, kind, 0, 100_000), _coin(desc, kind, 1, 90_000)]
    change_child = desc.derive(0, branch_index=1)
    change = ChangeOutput(
        script_pubkey=change_child.script_pubkey().data,
        value_sats=190_000 - amount_sats - 1_000,
        child=change_child,
        kind=kind,
    )
    psbt = psbt_assemble(
        coins=coins, destination_script=DESTINATION, amount_sats=amount_sats, change=change, locktime=700
    )
    return bytes(psbt.serialize()), bytes(psbt.tx.serialize())


@pytest.fixture(scope="module")
def multisig() -> Built:
    raw, tx = _build(multisig_descriptor(), "wsh-sortedmulti")
    first = COSIGNERS[0].sign(raw)
    both = PSBT.parse(COSIGNERS[1].sign(first))
    return Built(raw=raw, tx=tx, signed=bytes(both.serialize()))


@pytest.fixture(scope="module")
def taproot() -> Built:
    raw, tx = _build(tr_descriptor(), "tr")
    return Built(raw=raw, tx=tx, signed=COSIGNERS[0].sign(raw, sighash=SIGHASH.DEFAULT))


def edit(change: Callable[[PSBT], object]) -> Callable[[Built], bytes]:
    def tamper(built: Built) -> bytes:
        psbt = PSBT.parse(built.signed)
        change(psbt)
        return bytes(psbt.serialize())

    return tamper


def _set(obj: object, name: str, value: object) -> None:
    setattr(obj, name, value)


def _other_transfer(built: Built) -> bytes:
    raw, _ = _build(multisig_descriptor(), "wsh-sortedmulti", amount_sats=150_000)
    return COSIGNERS[0].sign(raw)


def _signed_with(sighash: int) -> Callable[[Built], bytes]:
    def tamper(built: Built) -> bytes:
        psbt = PSBT.parse(built.raw)
        for scope in psbt.inputs:
            scope.sighash_type = sighash
        signed = PSBT.parse(COSIGNERS[0].sign(bytes(psbt.serialize()), sighash=sighash))
        for scope in signed.inputs:
            scope.sighash_type = None  # the flag inside the signature is what is judged
        return bytes(signed.serialize())

    return tamper


def _outsider_signature(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    key = OUTSIDER.root.derive("m/48h/1h/0h/2h/0/0").key
    psbt.inputs[0].partial_sigs[key.get_public_key()] = key.sign(psbt.sighash(0)).serialize() + b"\x01"
    return bytes(psbt.serialize())


def _duplicate_entry(built: Built) -> bytes:
    # The same cosigner's signature twice in one input map: a PSBT may not repeat a key.
    psbt = PSBT.parse(built.signed)
    pub, signature = next(iter(psbt.inputs[0].partial_sigs.items()))
    entry = bytes([34, 0x02]) + pub.sec() + bytes([len(signature)]) + signature
    raw = bytes(psbt.serialize())
    needle = bytes([34, 0x02]) + pub.sec()
    at = raw.index(needle)
    return raw[:at] + entry + raw[at:]


def _flipped_signature(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    pub, signature = next(iter(psbt.inputs[0].partial_sigs.items()))
    psbt.inputs[0].partial_sigs[pub] = signature[:-5] + bytes([signature[-5] ^ 1]) + signature[-4:]
    return bytes(psbt.serialize())


def _signature_of_another_input(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    one, other = psbt.inputs[0], psbt.inputs[1]
    fingerprint_of = {pub.sec(): der.fingerprint for pub, der in one.bip32_derivations.items()}
    [(pub0, sig0)] = [(p, s) for p, s in one.partial_sigs.items() if fingerprint_of[p.sec()]][:1]
    [pub1] = [p for p, d in other.bip32_derivations.items() if d.fingerprint == fingerprint_of[pub0.sec()]]
    other.partial_sigs[pub1] = sig0
    return bytes(psbt.serialize())


def _swapped_non_witness_utxo(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    psbt.inputs[0].non_witness_utxo = psbt.inputs[1].non_witness_utxo
    return bytes(psbt.serialize())


def _modifiable_v2(built: Built) -> bytes:
    v2 = PSBT.parse(psbt_v2(PSBT.parse(built.signed)))
    v2.unknown[b"\x06"] = b"\x03"
    return bytes(v2.serialize())


def _script_sig_in_unsigned_tx(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    tx = Transaction.parse(built.tx)
    tx.vin[0].script_sig = Script(b"\x51")
    raw = bytes(psbt.serialize())
    original = built.tx
    old = bytes([len(original)]) if len(original) < 0xFD else b"\xfd" + len(original).to_bytes(2, "little")
    new_tx = tx.serialize()
    new = bytes([len(new_tx)]) if len(new_tx) < 0xFD else b"\xfd" + len(new_tx).to_bytes(2, "little")
    return raw.replace(old + original, new + new_tx, 1)


def _finalized(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    psbt.inputs[0].final_scriptwitness = Witness([b"", b"\x01"])
    return bytes(psbt.serialize())


def _unknown_field(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    psbt.inputs[0].unknown[b"\x42"] = b"anything"
    return bytes(psbt.serialize())


def _foreign_witness_script(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    other = Descriptor.from_string(multisig_descriptor((COSIGNERS[0], COSIGNERS[1], OUTSIDER))).derive(0, 0)
    psbt.inputs[0].witness_script = other.witness_script()
    return bytes(psbt.serialize())


def _foreign_input(psbt: PSBT) -> None:
    psbt.inputs[1].txid = bytes(32)


def _extra_input(psbt: PSBT) -> None:
    psbt.inputs.append(type(psbt.inputs[0])(vin=TransactionInput(bytes([9]) * 32, 0)))


def _tr_signed_with(sighash: int) -> Callable[[Built], bytes]:
    def tamper(built: Built) -> bytes:
        psbt = PSBT.parse(COSIGNERS[0].sign(built.raw, sighash=sighash))
        for scope in psbt.inputs:
            scope.final_scriptwitness = None
        return bytes(psbt.serialize())

    return tamper


def _tr_bad_signature(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    signature = psbt.inputs[0].unknown[PSBT_IN_TAP_KEY_SIG]
    psbt.inputs[0].unknown[PSBT_IN_TAP_KEY_SIG] = bytes([signature[0] ^ 1]) + signature[1:]
    psbt.inputs[0].final_scriptwitness = None
    return bytes(psbt.serialize())


def _tr_ecdsa(built: Built) -> bytes:
    psbt = PSBT.parse(built.signed)
    key = COSIGNERS[0].root.derive("m/86h/1h/0h/0/0").key
    psbt.inputs[0].partial_sigs[key.get_public_key()] = key.sign(psbt.sighash(0)).serialize() + b"\x01"
    return bytes(psbt.serialize())


MULTISIG_VARIANTS: dict[str, tuple[Callable[[Built], bytes], str]] = {
    "extra output": (
        edit(lambda p: p.outputs.append(type(p.outputs[0])(vout=TransactionOutput(5_000, Script(DESTINATION))))),
        "3 outputs where 2 were built",
    ),
    "swapped destination": (
        edit(lambda p: _set(p.outputs[0], "script_pubkey", Script(bytes.fromhex("0014" + "22" * 20)))),
        "output 0 pays another script",
    ),
    "raised fee (change lowered)": (edit(lambda p: _set(p.outputs[1], "value", 40_000)), "output 1 pays 40000 sats"),
    "amount raised": (edit(lambda p: _set(p.outputs[0], "value", 150_000)), "output 0 pays 150000 sats"),
    "changed change script": (
        edit(lambda p: _set(p.outputs[1], "script_pubkey", Script(DESTINATION))),
        "output 1 pays another script",
    ),
    "foreign input": (edit(_foreign_input), "input 1 spends"),
    "extra input": (edit(_extra_input), "3 inputs where 2 were built"),
    "dropped input": (edit(lambda p: p.inputs.pop()), "1 inputs where 2 were built"),
    "swapped non_witness_utxo": (_swapped_non_witness_utxo, "non_witness_utxo does not hash to the spent txid"),
    "witness_utxo amount lowered": (
        edit(
            lambda p: _set(
                p.inputs[0], "witness_utxo", TransactionOutput(1_000, p.inputs[0].witness_utxo.script_pubkey)
            )
        ),
        "witness_utxo differs",
    ),
    "witness script of other keys": (_foreign_witness_script, "witness_script differs"),
    "SIGHASH_NONE": (_signed_with(SIGHASH.NONE), "only SIGHASH_ALL"),
    "SIGHASH_SINGLE": (_signed_with(SIGHASH.SINGLE), "only SIGHASH_ALL"),
    "SIGHASH_ALL|ANYONECANPAY": (_signed_with(SIGHASH.ALL | SIGHASH.ANYONECANPAY), "only SIGHASH_ALL"),
    "sighash field NONE": (edit(lambda p: _set(p.inputs[0], "sighash_type", SIGHASH.NONE)), "asks for sighash 0x2"),
    "key outside the descriptor": (_outsider_signature, "a key outside the wallet's descriptor"),
    "one cosigner signing twice": (_duplicate_entry, "Duplicated partial sig"),
    "signature bytes flipped": (_flipped_signature, "signature by"),
    "signature of another input": (_signature_of_another_input, "does not verify against its BIP-143 sighash"),
    "changed locktime": (edit(lambda p: _set(p, "locktime", 701)), "locktime 701 differs from the built 700"),
    "changed sequence": (edit(lambda p: _set(p.inputs[0], "sequence", 0xFFFFFFFF)), "input 0 has sequence 0xffffffff"),
    "changed version": (edit(lambda p: _set(p, "tx_version", 1)), "transaction version 1 differs"),
    "v2 with modifiable flags": (_modifiable_v2, "modifiable flags 0x03"),
    "PSBT for another transfer": (_other_transfer, "output 0 pays 150000 sats, not the built 140000"),
    "scriptSig in the unsigned transaction": (_script_sig_in_unsigned_tx, "input 0 of the unsigned transaction"),
    "finalized input": (_finalized, "is finalized"),
    "unknown input field": (_unknown_field, "fields the built PSBT has no use for"),
    "not a PSBT": (lambda built: b"psbu" + built.signed[4:], "Invalid PSBT magic"),
    "truncated": (lambda built: built.signed[: len(built.signed) // 2], "malformed PSBT"),
}

TAPROOT_VARIANTS: dict[str, tuple[Callable[[Built], bytes], str]] = {
    "taproot SIGHASH_NONE": (_tr_signed_with(SIGHASH.NONE), "taproot signature with sighash 2"),
    "taproot SIGHASH_ALL|ANYONECANPAY": (
        _tr_signed_with(SIGHASH.ALL | SIGHASH.ANYONECANPAY),
        "taproot signature with sighash 129",
    ),
    "taproot signature flipped": (_tr_bad_signature, "does not verify against its BIP-341 sighash"),
    "ECDSA signature on a taproot input": (_tr_ecdsa, "ECDSA signature on a taproot input"),
}


@pytest.mark.parametrize(("variant", "reason"), MULTISIG_VARIANTS.values(), ids=MULTISIG_VARIANTS.keys())
def test_tampered_multisig_psbt_is_refused_with_its_reason(multisig: Built, variant, reason) -> None:
    with pytest.raises(PsbtRefused) as refused:
        psbt_signatures(raw=variant(multisig), built_raw=multisig.raw, built_tx=multisig.tx)
    assert reason in refused.value.reason


@pytest.mark.parametrize(("variant", "reason"), TAPROOT_VARIANTS.values(), ids=TAPROOT_VARIANTS.keys())
def test_tampered_taproot_psbt_is_refused_with_its_reason(taproot: Built, variant, reason) -> None:
    with pytest.raises(PsbtRefused) as refused:
        psbt_signatures(raw=variant(taproot), built_raw=taproot.raw, built_tx=taproot.tx)
    assert reason in refused.value.reason


def test_the_untampered_psbts_verify_in_v0_and_v2_and_finalize(multisig: Built, taproot: Built) -> None:
    for built, threshold in ((multisig, 2), (taproot, 1)):
        for raw in (built.signed, psbt_v2(PSBT.parse(built.signed))):
            signatures = psbt_signatures(raw=raw, built_raw=built.raw, built_tx=built.tx)
            combined = psbt_combine(combined_raw=built.raw, signatures=signatures)
            assert all(found.count() == threshold for found in signatures)
            assert all(len(fingerprints) == threshold for fingerprints in cosigner_fingerprints(PSBT.parse(combined)))
            final = psbt_finalize(combined_raw=combined, threshold=threshold)
            assert final.txid() == Transaction.parse(built.tx).txid()
    assert sum(len(variants) for variants in (MULTISIG_VARIANTS, TAPROOT_VARIANTS)) >= 25


def test_partial_signatures_of_separate_cosigners_combine(multisig: Built) -> None:
    combined = multisig.raw
    for cosigner in (COSIGNERS[2], COSIGNERS[0]):
        signatures = psbt_signatures(raw=cosigner.sign(multisig.raw), built_raw=multisig.raw, built_tx=multisig.tx)
        combined = psbt_combine(combined_raw=combined, signatures=signatures)
    assert cosigner_fingerprints(PSBT.parse(combined)) == [{COSIGNERS[0].fingerprint, COSIGNERS[2].fingerprint}] * 2
    with pytest.raises(PsbtRefused, match="1 of the 2 signatures"):
        psbt_finalize(
            combined_raw=psbt_combine(
                combined_raw=multisig.raw,
                signatures=psbt_signatures(
                    raw=COSIGNERS[1].sign(multisig.raw), built_raw=multisig.raw, built_tx=multisig.tx
                ),
            ),
            threshold=2,
        )
