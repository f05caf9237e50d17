"""The demo's regtest history for `seed_demo`: blocks built here at times chosen to spread the
history over months, paying and spending with keys the demo holds. The keys are public test
material (BIP39's "abandon ... about" mnemonic, a hashed label for the miner), never a real
custodian's: the service itself stays watch-only. Regtest only."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property

from bitcoin.core import CBlock, CTransaction
from bitcoin.wallet import CKey
from embit import bip32, bip39
from embit.networks import NETWORKS

from reserve.chain.blocks import Outpoint, hash_to_hex, parse_header
from reserve.chain.regtest_blocks import (
    SEGWIT_SIGNAL_VERSION,
    SpendInput,
    block_subsidy_sats,
    build_block,
    p2wpkh_script,
    sign_spend,
    txid_of,
)
from reserve.chain.rpc import RpcChainSource

# One block every six hours: 480 blocks are four months of history.
BLOCK_INTERVAL_SECONDS = 6 * 3600
# BIP173's P2WPKH test vector on regtest: nobody's wallet (blocks that should pay no one we watch).
NOBODY_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
NOBODY_SCRIPT = bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6")
# The BIP39 test mnemonic whose account m/84h/1h/0h is treasury-cold-01's descriptor.
TREASURY_MNEMONIC = " ".join(["abandon"] * 11 + ["about"])


class DemoKeys:
    """The keys the demo signs with: the miner's (nobody's wallet) and treasury-cold-01's."""

    @cached_property
    def miner(self) -> CKey:
        return CKey(hashlib.sha256(b"reserve-ledger demo miner").digest(), compressed=True)

    @cached_property
    def _treasury_account(self) -> bip32.HDKey:
        seed = bip39.mnemonic_to_seed(TREASURY_MNEMONIC)
        return bip32.HDKey.from_seed(seed, version=NETWORKS["regtest"]["xprv"]).derive("m/84h/1h/0h")

    def treasury(self, chain: int, index: int) -> CKey:
        """The key of treasury-cold-01's address chain/index (0 receive, 1 change)."""
        child = self._treasury_account.derive([chain, index])
        return CKey(child.key.secret, compressed=True)

    @property
    def miner_script(self) -> bytes:
        return p2wpkh_script(bytes(self.miner.pub))


class DemoChain:
    """The regtest node's chain as the demo writes it: block h is stamped at start + h * interval."""

    def __init__(self, source: RpcChainSource, *, tip_height_planned: int = 0) -> None:
        self.source = source
        self.tip_height = source.block_count()
        self._tip_hash = source.block_hash(self.tip_height)
        self._tip_time = parse_header(source.raw_block_header(self._tip_hash)).time
        if self.tip_height > 0:
            self.start_timestamp = self._block(1).nTime - BLOCK_INTERVAL_SECONDS
        else:
            now = int(datetime.now(UTC).timestamp()) // 3600 * 3600
            # The planned tip lands a few hours ago, so blocks mined later by hand follow on.
            self.start_timestamp = now - (tip_height_planned + 1) * BLOCK_INTERVAL_SECONDS

    def time_at(self, height: int) -> datetime:
        return datetime.fromtimestamp(self.start_timestamp + height * BLOCK_INTERVAL_SECONDS, tz=UTC)

    def _block(self, height: int) -> CBlock:
        return CBlock.deserialize(self.source.raw_block(self.source.block_hash(height)))

    def txid_at(self, height: int, position: int) -> str:
        """The txid of the block's `position`-th transaction (0: the coinbase)."""
        return txid_of(self._block(height).vtx[position])

    def mine(
        self, *, payout_script: bytes, transactions: Sequence[CTransaction] = (), block_time: int | None = None
    ) -> str:
        """One block on the tip (at its planned time unless given), signalling segwit; returns its hash."""
        height = self.tip_height + 1
        block = build_block(
            parent_hash=self._tip_hash,
            height=height,
            block_time=block_time or int(self.time_at(height).timestamp()),
            payout_script=payout_script,
            transactions=transactions,
            version=SEGWIT_SIGNAL_VERSION,
        )
        result = self.source.call("submitblock", block.serialize().hex(), retry=False)
        block_hash = hash_to_hex(bytes(block.GetHash()))
        if result not in (None, "inconclusive"):
            raise RuntimeError(f"the regtest node refused the demo's block at height {height}: {result}")
        self.tip_height, self._tip_hash, self._tip_time = height, block_hash, block.nTime
        return block_hash

    def mine_to(self, height: int, *, payout_script: bytes) -> None:
        while self.tip_height < height:
            self.mine(payout_script=payout_script)
        if self.source.block_hash(self.tip_height) != self._tip_hash:
            raise RuntimeError(f"the regtest node did not take the demo's blocks up to height {height}")

    def mine_now(self, *, payout_script: bytes, transactions: Sequence[CTransaction] = ()) -> str:
        """One block on the tip stamped now (after its parent): for blocks added after the history."""
        block_time = max(self._tip_time + 1, int(datetime.now(UTC).timestamp()))
        return self.mine(payout_script=payout_script, transactions=transactions, block_time=block_time)

    @property
    def tip_hash(self) -> str:
        return self._tip_hash

    def rewind(self, height: int) -> None:
        """Build the next blocks on the block at `height` instead of the tip (a competing branch)."""
        self.tip_height, self._tip_hash = height, self.source.block_hash(height)
        self._tip_time = parse_header(self.source.raw_block_header(self._tip_hash)).time

    def unspent_coinbase(self, key_script: bytes, heights: range) -> tuple[Outpoint, int]:
        """The first coinbase output in `heights` paying `key_script` that the node holds unspent."""
        for height in heights:
            outpoint, value = self.coinbase_outpoint(height)
            found = self.source.call("gettxout", outpoint.txid, 0)
            if found and bytes.fromhex(found["scriptPubKey"]["hex"]) == key_script:
                return outpoint, value
        raise RuntimeError("the demo miner has no unspent mature coinbase left")

    def coinbase_value(self, height: int) -> int:
        return block_subsidy_sats(height)

    def coinbase_outpoint(self, height: int) -> tuple[Outpoint, int]:
        return Outpoint(self.txid_at(height, 0), 0), block_subsidy_sats(height)

    def outpoint(self, txid: str, vout: int) -> Outpoint:
        return Outpoint(txid, vout)


def pay(
    *, key: CKey, spent: tuple[Outpoint, int], outputs: list[tuple[bytes, int]], change_script: bytes, fee_sats: int
) -> CTransaction:
    """Spend one P2WPKH output of `key` to `outputs`, the rest (less the fee) to `change_script`."""
    outpoint, value_sats = spent
    change = value_sats - sum(value for _, value in outputs) - fee_sats
    if change < 0:
        raise ValueError("the spent output does not cover the payment and its fee")
    return sign_spend(
        [SpendInput(outpoint, value_sats, key)], [*outputs, (change_script, change)] if change else outputs
    )
