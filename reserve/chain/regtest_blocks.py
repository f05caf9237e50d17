"""Regtest blocks and P2WPKH spends built here rather than by the node: a dev tool for the demo
chain (`seed_demo`, `manage.py regtest`) and the tests, which choose a block's time and contents
(a history spread over months, a competing branch for a reorg). Regtest only: proof of work is
trivial at bits 0x207fffff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from bitcoin.core import (
    CBlock,
    COutPoint,
    CScriptWitness,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
    Hash160,
    lx,
)
from bitcoin.core.script import (
    OP_0,
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_RETURN,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    SignatureHash,
)
from bitcoin.wallet import CKey

from reserve.chain.blocks import Outpoint, hash_to_hex, sha256d
from reserve.chain.merkle import merkle_root
from reserve.chain.pow import target_from_bits

REGTEST_BITS = 0x207FFFFF
COIN = 100_000_000
# Bitcoin Core and bcoin regtest: the subsidy halves every 150 blocks.
REGTEST_HALVING_INTERVAL = 150
# BIP9 version bits; bit 1 signals segwit, which bcoin's regtest activates after three windows of 144.
BLOCK_VERSION = 0x20000000
SEGWIT_SIGNAL_VERSION = BLOCK_VERSION | 1 << 1
WITNESS_RESERVED_VALUE = b"\x00" * 32
WITNESS_COMMITMENT_HEADER = bytes.fromhex("aa21a9ed")


def block_subsidy_sats(height: int) -> int:
    halvings = height // REGTEST_HALVING_INTERVAL
    return 0 if halvings >= 64 else (50 * COIN) >> halvings


def txid_of(tx: CTransaction) -> str:
    return hash_to_hex(bytes(tx.GetTxid()))


def p2wpkh_script(pubkey: bytes) -> bytes:
    return bytes(CScript([OP_0, Hash160(pubkey)]))


class SpendInput(NamedTuple):
    """An output to spend: where it is, its value, the key that controls it, and how it pays that key."""

    outpoint: Outpoint
    value_sats: int
    key: CKey
    kind: str = "p2wpkh"  # or "p2pkh"


def sign_spend(inputs: Sequence[SpendInput], outputs: Sequence[tuple[bytes, int]]) -> CTransaction:
    """A signed transaction spending `inputs` to (script, value_sats) `outputs`; the difference is the fee."""
    tx_ins = [CTxIn(COutPoint(lx(spent.outpoint.txid), spent.outpoint.vout), nSequence=0xFFFFFFFE) for spent in inputs]
    tx_outs = [CTxOut(value_sats, CScript(script)) for script, value_sats in outputs]
    unsigned = CTransaction(tx_ins, tx_outs, nLockTime=0, nVersion=2)
    signed_ins, witnesses = [], []
    for index, spent in enumerate(inputs):
        pubkey = bytes(spent.key.pub)
        # BIP143 signs P2WPKH with the key's P2PKH script as script code, and commits to the value.
        script_code = CScript([OP_DUP, OP_HASH160, Hash160(pubkey), OP_EQUALVERIFY, OP_CHECKSIG])
        if spent.kind == "p2wpkh":
            digest = SignatureHash(
                script_code, unsigned, index, SIGHASH_ALL, amount=spent.value_sats, sigversion=SIGVERSION_WITNESS_V0
            )
        else:
            digest = SignatureHash(script_code, unsigned, index, SIGHASH_ALL)
        signature = spent.key.sign(digest) + bytes([SIGHASH_ALL])
        if spent.kind == "p2wpkh":
            signed_ins.append(tx_ins[index])
            witnesses.append(CTxInWitness(CScriptWitness([signature, pubkey])))
        else:
            signed_ins.append(CTxIn(tx_ins[index].prevout, CScript([signature, pubkey]), 0xFFFFFFFE))
            witnesses.append(CTxInWitness())
    witness = CTxWitness(witnesses) if any(spent.kind == "p2wpkh" for spent in inputs) else CTxWitness()
    return CTransaction(signed_ins, tx_outs, nLockTime=0, nVersion=2, witness=witness)


def coinbase_transaction(
    *, height: int, script: bytes, value_sats: int, witness_commitment: bytes | None = None
) -> CTransaction:
    """Coinbase paying `script`, with the BIP34 height, and the BIP141 commitment when given."""
    height_bytes = height.to_bytes((height.bit_length() + 8) // 8, "little")
    script_sig = CScript([height_bytes, b"reserve-ledger tests"])
    outputs = [CTxOut(value_sats, CScript(script))]
    witness = CTxWitness()
    if witness_commitment is not None:
        outputs.append(CTxOut(0, CScript([OP_RETURN, WITNESS_COMMITMENT_HEADER + witness_commitment])))
        witness = CTxWitness([CTxInWitness(CScriptWitness([WITNESS_RESERVED_VALUE]))])
    return CTransaction(
        [CTxIn(COutPoint(), script_sig, nSequence=0xFFFFFFFF)], outputs, nLockTime=0, nVersion=2, witness=witness
    )


def build_block(
    *,
    parent_hash: str,
    height: int,
    block_time: int,
    payout_script: bytes,
    transactions: Sequence[CTransaction] = (),
    fees_sats: int = 0,
    version: int = BLOCK_VERSION,
) -> CBlock:
    """A regtest block on `parent_hash`, proof of work solved at bits 0x207fffff.

    Fees are not computed from the chain: pass `fees_sats` (or leave them unclaimed).
    """
    commitment = None
    if any(tx.has_witness() for tx in transactions):
        # BIP141: the coinbase's wtxid counts as zero.
        wtxids = [b"\x00" * 32] + [bytes(tx.GetHash()) for tx in transactions]
        witness_root, _ = merkle_root(wtxids)
        commitment = sha256d(witness_root + WITNESS_RESERVED_VALUE)
    coinbase = coinbase_transaction(
        height=height,
        script=payout_script,
        value_sats=block_subsidy_sats(height) + fees_sats,
        witness_commitment=commitment,
    )
    vtx = [coinbase, *transactions]
    root, _ = merkle_root([bytes(tx.GetTxid()) for tx in vtx])
    target = target_from_bits(REGTEST_BITS)
    for nonce in range(1 << 32):
        header = CBlock(
            nVersion=version,
            hashPrevBlock=lx(parent_hash),
            hashMerkleRoot=root,
            nTime=block_time,
            nBits=REGTEST_BITS,
            nNonce=nonce,
        )
        if int.from_bytes(bytes(header.GetHash()), "little") <= target:
            return CBlock(
                nVersion=header.nVersion,
                hashPrevBlock=header.hashPrevBlock,
                hashMerkleRoot=root,
                nTime=block_time,
                nBits=REGTEST_BITS,
                nNonce=nonce,
                vtx=vtx,
            )
    raise RuntimeError("no nonce meets the regtest target")
