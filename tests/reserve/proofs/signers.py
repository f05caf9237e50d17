"""Custodians' keys for the proof tests (embit, as the cosigners' own tools sign): each wallet type's
regtest address and its BIP-322 signature over a message, Simple or Full."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from embit import ec
from embit.networks import NETWORKS
from embit.psbt import PSBT
from embit.script import Script, Witness, multisig, p2sh, p2tr, p2wpkh, p2wsh
from embit.transaction import SIGHASH, Transaction

from reserve.proofs.bip322 import encode_full, encode_simple, to_sign

REGTEST = NETWORKS["regtest"]


def private_key(label: str) -> ec.PrivateKey:
    return ec.PrivateKey(hashlib.sha256(f"reserve-ledger proof test key {label}".encode()).digest())


def _ecdsa(key: ec.PrivateKey, digest: bytes) -> bytes:
    return key.sign(digest).serialize() + bytes([SIGHASH.ALL])


@dataclass(frozen=True)
class SingleKey:
    """One key: its P2WPKH, P2SH-P2WPKH and P2TR (key path, BIP86 tweak) addresses."""

    label: str

    @property
    def key(self) -> ec.PrivateKey:
        return private_key(self.label)

    def script(self, kind: str) -> Script:
        public = self.key.get_public_key()
        if kind == "p2wpkh":
            return p2wpkh(public)
        if kind == "p2sh":
            return p2sh(p2wpkh(public))
        if kind == "p2tr":
            return p2tr(public)
        raise ValueError(kind)

    def address(self, kind: str) -> str:
        return self.script(kind).address(REGTEST)

    def signed(self, kind: str, message: str, *, claimed: str = "") -> Transaction:
        """Signed by this key; for the address `claimed` (another's) when given: a wrong-key proof."""
        script = self.script(kind)
        claimed_script = Script.from_address(claimed) if claimed else script
        tx = to_sign(script_pubkey=claimed_script.data, message=message)
        public = self.key.get_public_key()
        if kind == "p2tr":
            digest = tx.sighash_taproot(0, [claimed_script], [0], SIGHASH.DEFAULT)
            tx.vin[0].witness = Witness([self.key.taproot_tweak(b"").schnorr_sign(digest).serialize()])
            return tx
        script_code = Script(b"\x76\xa9\x14" + p2wpkh(public).data[2:] + b"\x88\xac")
        digest = tx.sighash_segwit(0, script_code, 0, SIGHASH.ALL)
        tx.vin[0].witness = Witness([_ecdsa(self.key, digest), public.sec()])
        if kind == "p2sh":
            redeem = p2wpkh(public).data
            tx.vin[0].script_sig = Script(bytes([len(redeem)]) + redeem)
        return tx

    def full(self, kind: str, message: str, *, claimed: str = "") -> str:
        return encode_full(self.signed(kind, message, claimed=claimed))

    def simple(self, kind: str, message: str) -> str:
        return encode_simple(self.signed(kind, message).vin[0].witness.items)


@dataclass(frozen=True)
class Multisig:
    """An m-of-n P2WSH multisig of test cosigners (keys in the order given)."""

    labels: tuple[str, ...]
    quorum: int

    @property
    def witness_script(self) -> Script:
        return multisig(self.quorum, [private_key(label).get_public_key() for label in self.labels])

    @property
    def address(self) -> str:
        return p2wsh(self.witness_script).address(REGTEST)

    def signed(self, message: str, signers: Sequence[str] | None = None) -> Transaction:
        """Signed by `signers` (default: the first `quorum` cosigners), in the script's key order."""
        script = p2wsh(self.witness_script)
        tx = to_sign(script_pubkey=script.data, message=message)
        digest = tx.sighash_segwit(0, self.witness_script, 0, SIGHASH.ALL)
        chosen = list(signers if signers is not None else self.labels[: self.quorum])
        signatures = [_ecdsa(private_key(label), digest) for label in chosen]
        tx.vin[0].witness = Witness([b"", *signatures, self.witness_script.data])
        return tx

    def full(self, message: str, signers: Sequence[str] | None = None) -> str:
        return encode_full(self.signed(message, signers))

    def sign_psbt(self, psbt_text: str, signers: Sequence[str] | None = None) -> str:
        """The cosigners sign a (proof) PSBT as they sign a transfer: embit, witness script added."""
        psbt = PSBT.from_string(psbt_text)
        for scope in psbt.inputs[1:]:
            scope.witness_script = self.witness_script
        for label in signers if signers is not None else self.labels[: self.quorum]:
            psbt.sign_with(private_key(label))
        return str(psbt.to_base64())
