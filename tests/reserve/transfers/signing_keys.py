"""Test cosigners for signing: BIP32 roots from fixed seeds (private keys exist only in tests),
the wallets' descriptors over their public account keys, and signing with embit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from embit import bip32
from embit.networks import NETWORKS
from embit.psbt import PSBT
from embit.transaction import SIGHASH

from reserve.transfers.psbt_verify import PSBT_IN_TAP_KEY_SIG

TEST_NETWORK = NETWORKS["test"]
MULTISIG_PATH = "m/48h/1h/0h/2h"
WPKH_PATH = "m/84h/1h/0h"
TR_PATH = "m/86h/1h/0h"


@dataclass(frozen=True)
class Cosigner:
    label: str

    @cached_property
    def root(self) -> bip32.HDKey:
        seed = hashlib.sha256(f"reserve-ledger cosigner {self.label}".encode()).digest()
        return bip32.HDKey.from_seed(seed, version=TEST_NETWORK["xprv"])

    @property
    def fingerprint(self) -> str:
        return self.root.my_fingerprint.hex()

    def account(self, path: str) -> str:
        """`[fingerprint/path]tpub` for a descriptor."""
        xpub = self.root.derive(path).to_public().to_string(version=TEST_NETWORK["xpub"])
        return f"[{self.fingerprint}{path[1:]}]{xpub}"

    def sign(self, psbt_raw: bytes, *, sighash: int = SIGHASH.ALL) -> bytes:
        """`psbt_raw` with this cosigner's signatures (ECDSA partial signatures; taproot key path
        as PSBT_IN_TAP_KEY_SIG)."""
        psbt = PSBT.parse(psbt_raw)
        for index, scope in enumerate(psbt.inputs):
            if scope.taproot_internal_key is None:
                continue
            for pub, (_, derivation) in scope.taproot_bip32_derivations.items():
                if derivation.fingerprint != self.root.my_fingerprint:
                    continue
                key = self.root.derive(derivation.derivation).key
                assert key.get_public_key().xonly() == pub.xonly()
                tweaked = key.taproot_tweak(b"")
                signature = tweaked.schnorr_sign(psbt.sighash(index, sighash=sighash)).serialize()
                scope.unknown[PSBT_IN_TAP_KEY_SIG] = signature + (
                    b"" if sighash == SIGHASH.DEFAULT else bytes([sighash])
                )
        psbt.sign_with(self.root, sighash=sighash)
        return bytes(psbt.serialize())


COSIGNERS = (Cosigner("alba"), Cosigner("bruno"), Cosigner("carla"))
OUTSIDER = Cosigner("mallory")


def multisig_descriptor(cosigners: tuple[Cosigner, ...] = COSIGNERS) -> str:
    keys = ",".join(f"{c.account(MULTISIG_PATH)}/<0;1>/*" for c in cosigners)
    return f"wsh(sortedmulti(2,{keys}))"


def wpkh_descriptor(cosigner: Cosigner = COSIGNERS[0]) -> str:
    return f"wpkh({cosigner.account(WPKH_PATH)}/<0;1>/*)"


def tr_descriptor(cosigner: Cosigner = COSIGNERS[0]) -> str:
    return f"tr({cosigner.account(TR_PATH)}/<0;1>/*)"
