"""Transactions and blocks built and signed by the tests with their keys: P2WPKH/P2PKH spends and
mined regtest blocks, over reserve/chain/regtest_blocks.py (which builds them).

Blocks are built (not by the node) when a test needs a branch of its own choosing,
e.g. a competing branch with a conflicting spend for a reorg.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal, NamedTuple

from bitcoin.core import CTransaction

from reserve.chain import regtest_blocks
from reserve.chain.blocks import Outpoint, hash_to_hex
from reserve.chain.regtest_blocks import block_subsidy_sats, build_block, txid_of
from tests.regtest.keys import WalletKey
from tests.regtest.source import RegtestSource

__all__ = [
    "SpendInput",
    "block_subsidy_sats",
    "build_block",
    "generate_to_address",
    "mine_block",
    "sign_spend",
    "spend_p2wpkh",
    "txid_of",
]


class SpendInput(NamedTuple):
    """An output to spend: where it is, its value, the test key that controls it, and how it pays that key."""

    outpoint: Outpoint
    value_sats: int
    key: WalletKey
    kind: Literal["p2wpkh", "p2pkh"] = "p2wpkh"


def sign_spend(inputs: Sequence[SpendInput], outputs: Sequence[tuple[bytes, int]]) -> CTransaction:
    """A signed transaction spending `inputs` to (script, value_sats) `outputs`; the difference is the fee."""
    return regtest_blocks.sign_spend(
        [regtest_blocks.SpendInput(spent.outpoint, spent.value_sats, spent.key.key, spent.kind) for spent in inputs],
        outputs,
    )


def spend_p2wpkh(
    key: WalletKey,
    spent: Sequence[tuple[Outpoint, int]],
    outputs: Sequence[tuple[bytes, int]],
) -> CTransaction:
    """`sign_spend` for P2WPKH outputs of one key, given as (outpoint, value_sats)."""
    return sign_spend([SpendInput(outpoint, value_sats, key) for outpoint, value_sats in spent], outputs)


def mine_block(
    source: RegtestSource,
    *,
    payout_script: bytes,
    transactions: Sequence[CTransaction] = (),
    parent_hash: str | None = None,
) -> str:
    """Build a block on `parent_hash` (default: the node's tip), submit it, and return its hash."""
    parent_hash = parent_hash or source.best_block_hash()
    parent = source.block_header(parent_hash)
    block = build_block(
        parent_hash=parent_hash,
        height=int(parent["height"]) + 1,
        block_time=max(int(parent["time"]) + 1, int(time.time())),
        payout_script=payout_script,
        transactions=transactions,
    )
    result = source.call("submitblock", block.serialize().hex(), retry=False)
    if result not in (None, "inconclusive"):
        raise RuntimeError(f"node rejected block at height {int(parent['height']) + 1}: {result}")
    return hash_to_hex(bytes(block.GetHash()))


def generate_to_address(source: RegtestSource, count: int, address: str) -> list[str]:
    """Let the node mine `count` blocks paying `address`; returns their hashes."""
    return source.generate_to_address(count, address)
