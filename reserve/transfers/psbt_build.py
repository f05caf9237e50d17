"""The unsigned PSBT of an approved transfer, from coins already chosen: the inputs with every
field a signer needs, the outputs exactly as approved, the fee from a rate. Pure (no database):
`reserve/transfers/signing.py` chooses the coins and stores the result.

Supported input kinds: wpkh, sh(wpkh), wsh/sh(wsh) (sorted)multi, tr (key path). Legacy pkh and
bare sh(multi) coins are never selected (`SIGNABLE_KINDS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from embit import compact
from embit.descriptor import Descriptor
from embit.finalizer import parse_multisig
from embit.psbt import PSBT, DerivationPath
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

SIGNABLE_KINDS = ("wpkh", "sh-wpkh", "wsh-multi", "wsh-sortedmulti", "sh-wsh-multi", "sh-wsh-sortedmulti", "tr")
TX_VERSION = 2
# Opts in to replacement and makes the locktime count (anti fee sniping, as Bitcoin Core does).
SEQUENCE = 0xFFFFFFFD
DUST_SATS = 546
COINBASE_MATURITY = 100
ECDSA_SIG_BYTES = 73  # the longest DER signature with its sighash byte
SCHNORR_SIG_BYTES = 64  # SIGHASH_DEFAULT: no sighash byte


def coinbase_immature(*, block_height: int, tip_height: int) -> bool:
    """A coinbase output at `block_height` cannot be spent in the block after `tip_height`."""
    return tip_height + 1 - block_height < COINBASE_MATURITY


@dataclass(frozen=True)
class SpendableCoin:
    """A coin with what signing it takes: its previous transaction and its derived descriptor."""

    txid: str
    vout: int
    value_sats: int
    script_pubkey: bytes
    kind: str
    child: Descriptor  # the wallet's descriptor derived at the coin's chain and index
    prev_tx: Transaction

    @property
    def threshold(self) -> int:
        if self.kind == "tr" or self.kind.endswith("wpkh"):
            return 1
        m, _ = parse_multisig(self.child.witness_script())
        return int(m)

    @property
    def input_weight(self) -> int:
        """Weight units of this input once signed (the longest signatures)."""
        script_sig = b""
        if self.kind.startswith("sh-"):
            script_sig = self.child.redeem_script().serialize()  # one push of the redeem script
        base = 32 + 4 + len(compact.to_bytes(len(script_sig))) + len(script_sig) + 4
        if self.kind == "tr":
            witness = 1 + 1 + SCHNORR_SIG_BYTES
        elif self.kind.endswith("wpkh"):
            witness = 1 + 1 + ECDSA_SIG_BYTES + 1 + 33
        else:
            script = self.child.witness_script().data
            witness = 1 + 1 + self.threshold * (1 + ECDSA_SIG_BYTES) + len(compact.to_bytes(len(script))) + len(script)
        return base * 4 + witness


def output_weight(script_pubkey: bytes) -> int:
    return (8 + len(compact.to_bytes(len(script_pubkey))) + len(script_pubkey)) * 4


def transaction_vsize(coins: list[SpendableCoin], output_scripts: list[bytes]) -> int:
    """Virtual size of the signed transaction (BIP-141), an upper bound."""
    counts = len(compact.to_bytes(len(coins))) + len(compact.to_bytes(len(output_scripts)))
    weight = (4 + 4 + counts) * 4 + 2  # version, locktime, counts; the segwit marker and flag
    weight += sum(coin.input_weight for coin in coins) + sum(output_weight(script) for script in output_scripts)
    return math.ceil(weight / 4)


def fee_for(*, rate_sat_per_kvb: int, vsize: int) -> int:
    return math.ceil(rate_sat_per_kvb * vsize / 1000)


def _key_derivation(key: object) -> DerivationPath:
    origin = key.origin  # type: ignore[attr-defined]
    return DerivationPath(origin.fingerprint, origin.derivation)


def _describe_input(psbt: PSBT, index: int, coin: SpendableCoin) -> None:
    scope = psbt.inputs[index]
    scope.witness_utxo = TransactionOutput(coin.value_sats, Script(coin.script_pubkey))
    if coin.kind == "tr":
        key = coin.child.key
        scope.taproot_internal_key = key.get_public_key()
        scope.taproot_bip32_derivations[key.get_public_key()] = ([], _key_derivation(key))
        return
    # Segwit v0: the whole previous transaction too, so a signer can check the amount it signs for.
    scope.non_witness_utxo = coin.prev_tx
    if coin.kind.startswith("sh-"):
        scope.redeem_script = coin.child.redeem_script()
    if "wsh" in coin.kind:
        scope.witness_script = coin.child.witness_script()
    for key in coin.child.keys:
        scope.bip32_derivations[key.get_public_key()] = _key_derivation(key)


def _describe_change(psbt: PSBT, index: int, change: Descriptor, kind: str) -> None:
    # Lets a hardware wallet show the output as its own change rather than a payment.
    scope = psbt.outputs[index]
    if kind == "tr":
        key = change.key
        scope.taproot_internal_key = key.get_public_key()
        scope.taproot_bip32_derivations[key.get_public_key()] = ([], _key_derivation(key))
        return
    if kind.startswith("sh-"):
        scope.redeem_script = change.redeem_script()
    if "wsh" in kind:
        scope.witness_script = change.witness_script()
    for key in change.keys:
        scope.bip32_derivations[key.get_public_key()] = _key_derivation(key)


@dataclass(frozen=True)
class ChangeOutput:
    script_pubkey: bytes
    value_sats: int
    child: Descriptor
    kind: str


def psbt_assemble(
    *,
    coins: list[SpendableCoin],
    destination_script: bytes,
    amount_sats: int,
    change: ChangeOutput | None,
    locktime: int,
) -> PSBT:
    """A BIP-174 v0 PSBT: the destination first, then the change (if any)."""
    outputs = [TransactionOutput(amount_sats, Script(destination_script))]
    if change is not None:
        outputs.append(TransactionOutput(change.value_sats, Script(change.script_pubkey)))
    tx = Transaction(
        version=TX_VERSION,
        locktime=locktime,
        vin=[TransactionInput(bytes.fromhex(coin.txid), coin.vout, sequence=SEQUENCE) for coin in coins],
        vout=outputs,
    )
    psbt = PSBT(tx)
    for index, coin in enumerate(coins):
        _describe_input(psbt, index, coin)
    if change is not None:
        _describe_change(psbt, 1, change.child, change.kind)
    return psbt


def psbt_v2(psbt: PSBT) -> bytes:
    """The same PSBT as BIP-370 v2 (no modifiable flags: nothing may be added or changed)."""
    copy = PSBT.parse(psbt.serialize())
    copy.version = 2
    return bytes(copy.serialize())
