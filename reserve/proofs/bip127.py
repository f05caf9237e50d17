"""BIP-127 whole-wallet proofs: a PSBT spending every output of a wallet plus the commitment input,
a transaction that can never be mined, signed by the cosigners with the tools they sign transfers with.

The commitment input's previous txid is SHA-256("Proof-of-Reserves: " + message) (as the serialized
bytes), index 0, with an empty scriptSig and witness; its value counts as 0 and, for the signature
hashes of taproot inputs, its script as OP_TRUE (what the BIP tells signers to assume). The single
output pays exactly the sum of the inputs (no fee). The PSBT carries the message in the BIP's input
field PSBT_IN_POR_COMMITMENT (0x09) so signing devices can show it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from embit.finalizer import finalize_psbt
from embit.psbt import PSBT
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from reserve.custody.addresses import ParsedAddress
from reserve.proofs.bip322 import Refused, Spending, satisfies

COMMITMENT_PREFIX = "Proof-of-Reserves: "
PSBT_IN_POR_COMMITMENT = b"\x09"
OP_TRUE = b"\x51"
OP_RETURN = b"\x6a"


@dataclass(frozen=True)
class Output:
    """An output the proof spends: where, how much, and the address it pays."""

    txid: str
    vout: int
    value_sats: int
    address: ParsedAddress


def commitment_txid(message: str) -> bytes:
    """The commitment input's txid, in embit's (display) byte order."""
    return hashlib.sha256((COMMITMENT_PREFIX + message).encode("utf-8")).digest()[::-1]


def proof_psbt(*, message: str, outputs: Sequence[Output]) -> str:
    """The unsigned proof PSBT (base64) for the cosigners: the commitment input, then every output."""
    inputs = [TransactionInput(commitment_txid(message), 0)]
    inputs += [TransactionInput(bytes.fromhex(output.txid), output.vout) for output in outputs]
    total = sum(output.value_sats for output in outputs)
    psbt = PSBT(Transaction(version=2, vin=inputs, vout=[TransactionOutput(total, Script(OP_RETURN))], locktime=0))
    # a fresh dict: embit's scopes share one default `unknown` dict between instances
    psbt.inputs[0].unknown = {PSBT_IN_POR_COMMITMENT: message.encode("utf-8")}
    psbt.inputs[0].witness_utxo = TransactionOutput(0, Script(OP_TRUE))
    for scope, output in zip(psbt.inputs[1:], outputs, strict=True):
        scope.witness_utxo = TransactionOutput(output.value_sats, Script(output.address.script_pubkey))
    return str(psbt.to_base64())


def _signed_transaction(text: str) -> Transaction:
    try:
        psbt = PSBT.from_string(text.strip())
        transaction = finalize_psbt(psbt, ignore_missing=True)
    except Exception:  # noqa: BLE001 - any malformed PSBT is a refused proof, not an error
        raise Refused("is not a base64 PSBT whose inputs embit can finalize") from None
    if transaction is None:
        raise Refused("is not a base64 PSBT whose inputs embit can finalize")
    return transaction


def verify_bip127(*, psbt: str, message: str, unspent: Mapping[tuple[str, int], Output]) -> list[Output]:
    """The outputs a signed proof PSBT proves control of, each among `unspent` (ours, unspent at the
    stated block); Refused with the reason otherwise."""
    transaction = _signed_transaction(psbt)
    commitment = transaction.vin[0] if transaction.vin else None
    if commitment is None or (commitment.txid, commitment.vout) != (commitment_txid(message), 0):
        raise Refused("its first input is not the commitment to this challenge's message (another challenge)")
    if commitment.witness.items or commitment.script_sig.data:
        raise Refused("the commitment input must have an empty scriptSig and witness")
    if len(transaction.vin) < 2:
        raise Refused("spends no output besides the commitment")
    spent: list[Output] = []
    for index, txin in enumerate(transaction.vin[1:], start=1):
        output = unspent.get((txin.txid.hex(), txin.vout))
        if output is None:
            raise Refused(
                f"input {index} spends {txin.txid.hex()}:{txin.vout}, which is not an output of ours unspent at "
                "the stated block (spent by then, or unknown)"
            )
        if output in spent:
            raise Refused(f"input {index} spends {output.txid}:{output.vout} twice")
        spent.append(output)
    values = [0] + [output.value_sats for output in spent]
    scripts = [OP_TRUE] + [output.address.script_pubkey for output in spent]
    if len(transaction.vout) != 1 or transaction.vout[0].value != sum(values):
        raise Refused("must have a single output of exactly the inputs' sum (no fee)")
    for index, output in enumerate(spent, start=1):
        try:
            satisfies(transaction, Spending(index, scripts, values), output.address)
        except Refused as refused:
            raise Refused(f"input {index} ({output.address.address}): {refused}") from None
    return spent
