"""Reorg handling on a regtest node: seconds to follow a reorg of depth k on a wallet with 10^3 and
10^4 UTXOs and transfers in its history, against following the same k blocks forward (the
baseline, timed in the same process on the same wallet): the ratio is what the reorg itself
costs, and it must stay flat as the history grows. Then the p99 latency of approvals of that
wallet's transfers while a block with 1,000 bookings for it is being booked.

Usage: .venv/bin/python bench/reorg.py [--sizes 1000,10000] [--depths 1,10] [--bookings 1000] [--smoke]

Creates a scratch database (dropped afterwards) and a regtest bcoin node. For each size: a wallet
funded with that many outputs (transactions of up to 500 outputs, each output one UTXO and one
observed transfer with its ledger posting), scanned; then for each depth k: k blocks that each pay
the wallet once, scanned (the forward time), replaced by a competing branch of k + 1 empty
blocks, scanned (the reorg time: rewinding k blocks' bookings and following the new branch).

Approvals: transfers from the largest wallet, proposed and approved once; the second approval
(the quorum: it reserves the funds, locking the wallet's balance row) of some is timed alone,
then of the rest while the wallet's scan books a block of `--bookings` outputs paying it.

--smoke: sizes 50 and 200, depths 1 and 3, 50 bookings (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from ledger_common import create_database, drop_database, machine_info, smoke_defaults  # noqa: E402

OUTPUTS_PER_TX = 500
COINBASE_MATURITY = 100
FEE_SATS = 1_000
APPROVAL_SATS = 1_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="UTXOs (and observed transfers) in the history")
    parser.add_argument("--depths", default="1,10")
    parser.add_argument("--bookings", type=int, default=1000, help="outputs in the block booked during approvals")
    parser.add_argument("--approvals", type=int, default=60, help="quorum approvals timed alone, and during the block")
    smoke_defaults(parser, {"sizes": "50,200", "depths": "1,3", "bookings": 50, "approvals": 6})
    options = parser.parse_args()

    name = f"bench_reorg_{uuid.uuid4().hex[:10]}"
    os.environ["DATABASE_URL"] = create_database(name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    try:
        return _run(options)
    finally:
        drop_database(name)


class Chain:
    """The node, a miner key with mature coinbases to spend, and P2PKH payments (no segwit needed)."""

    def __init__(self, source: Any, coinbases: int) -> None:
        from tests.regtest.keys import WalletKey

        self.source = source
        self.miner = WalletKey("bench reorg miner")
        self.filler = WalletKey("bench reorg filler")
        source.generate_to_address(COINBASE_MATURITY + coinbases, self.miner.p2pkh_address)
        self.next_coinbase = 1

    def coinbase(self) -> tuple[Any, int]:
        from reserve.chain.blocks import Watchlist, scan_block

        raw = self.source.raw_block(self.source.block_hash(self.next_coinbase))
        self.next_coinbase += 1
        found = scan_block(raw, Watchlist([self.miner.p2pkh_script])).outputs[0]
        return found.outpoint, found.value_sats

    def pay(self, script: bytes, count: int) -> Any:
        """One transaction paying `count` equal outputs to `script` from the next coinbase."""
        from tests.regtest.blocks import SpendInput, sign_spend

        outpoint, value = self.coinbase()
        each = (value - FEE_SATS) // count
        return sign_spend([SpendInput(outpoint, value, self.miner, kind="p2pkh")], [(script, each)] * count)

    def mine(self, transactions: list[Any], parent_hash: str | None = None) -> str:
        from tests.regtest.blocks import mine_block

        return str(
            mine_block(
                self.source,
                payout_script=self.filler.p2pkh_script,
                transactions=transactions,
                parent_hash=parent_hash,
            )
        )


def _run(options: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from reserve.custody.services import agency_create, wallet_register
    from reserve.reconciliation.follower import wallet_scan
    from reserve.reconciliation.models import WalletUtxo
    from reserve.transfers.models import Transfer
    from tests.regtest.keys import WalletKey
    from tests.regtest.node import RegtestNode
    from tests.users import make_user

    sizes = [int(size) for size in options.sizes.split(",")]
    depths = [int(depth) for depth in options.depths.split(",")]
    call_command("migrate", verbosity=0)
    people = {
        "operator": make_user("bench-operator", "operator"),
        "approver1": make_user("bench-approver-1", "approver"),
        "approver2": make_user("bench-approver-2", "approver"),
    }
    agency = agency_create(name="Bench", kind="other", actor=people["operator"])
    coinbases = sum(-(-size // OUTPUTS_PER_TX) for size in sizes) + len(sizes) * sum(depths) + 2
    rows, wallet = [], None
    with RegtestNode() as node, node.source() as source:
        chain = Chain(source, coinbases)
        for size in sizes:
            key = WalletKey(f"bench reorg wallet {size}")
            wallet = wallet_register(
                name=f"bench-reorg-{size}",
                agency=agency,
                kind="cold",
                network="regtest",
                birthday_height=source.block_count() + 1,
                addresses=[key.p2pkh_address],
                actor=people["operator"],
            )
            funding, left = [], size
            while left > 0:
                funding.append(chain.pay(key.p2pkh_script, min(left, OUTPUTS_PER_TX)))
                left -= OUTPUTS_PER_TX
            chain.mine(funding)
            started = time.perf_counter()
            wallet_scan(wallet=wallet, source=source)
            setup_seconds = time.perf_counter() - started
            for depth in depths:
                fork_parent = source.block_hash(source.block_count())
                for _ in range(depth):
                    chain.mine([chain.pay(key.p2pkh_script, 1)])
                started = time.perf_counter()
                wallet_scan(wallet=wallet, source=source)
                forward_seconds = time.perf_counter() - started
                # A competing branch of depth + 1 empty blocks from below the k just booked: more work wins.
                parent = fork_parent
                for _ in range(depth + 1):
                    parent = chain.mine([], parent_hash=parent)
                started = time.perf_counter()
                result = wallet_scan(wallet=wallet, source=source)
                reorg_seconds = time.perf_counter() - started
                assert result.reorgs == 1, result
                utxos = WalletUtxo.objects.filter(wallet=wallet).count()
                transfers = Transfer.objects.filter(destination_wallet=wallet).count()
                rows.append((utxos, transfers, depth, reorg_seconds, forward_seconds, setup_seconds))
        assert wallet is not None
        approvals = _approvals_during_a_block(chain, wallet, key, people, options)
    info = machine_info()
    print(f"machine: {info['nproc']} cpu {info['cpu']}, PostgreSQL {info['postgres']}, Python {info['python']}")
    print(f"{'utxos':>6} {'transfers':>9} {'depth':>5} {'reorg s':>9} {'forward s':>10} {'ratio':>7} {'history s':>10}")
    for utxos, transfers, depth, reorg_seconds, forward_seconds, setup_seconds in rows:
        print(
            f"{utxos:>6} {transfers:>9} {depth:>5} {reorg_seconds:>9.3f} {forward_seconds:>10.3f} "
            f"{reorg_seconds / forward_seconds:>7.2f} {setup_seconds:>10.1f}"
        )
    alone, during, block_seconds = approvals
    print(f"approval (quorum) alone: p50 {_ms(alone, 50)} ms, p99 {_ms(alone, 99)} ms ({len(alone)} approvals)")
    print(
        f"approval (quorum) while a block of {options.bookings} bookings is booked: p50 {_ms(during, 50)} ms, "
        f"p99 {_ms(during, 99)} ms, max {_ms(during, 100)} ms ({len(during)} approvals; "
        f"the block took {block_seconds:.2f} s)"
    )
    return 0


def _ms(samples: list[float], percentile: int) -> str:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(percentile / 100 * len(ordered)) - 1))
    return f"{ordered[index] * 1000:.0f}"


def _approvals_during_a_block(
    chain: Chain, wallet: Any, key: Any, people: dict[str, Any], options: argparse.Namespace
) -> tuple[list[float], list[float], float]:
    """(quorum approvals alone, quorum approvals while the scan books a block of many bookings, the block's seconds)."""
    from django.db import connection

    from reserve.reconciliation.follower import wallet_scan
    from reserve.transfers.services import transfer_approve, transfer_create, transfer_propose
    from tests.regtest.keys import WalletKey

    # Enough waiting transfers that approvals keep coming for as long as the block takes.
    pending = []
    for number in range(options.approvals * 4):
        transfer = transfer_create(
            actor=people["operator"],
            direction="outbound",
            category="return_to_victims",
            amount_sats=APPROVAL_SATS,
            source_wallet=wallet,
            external_address=WalletKey(f"bench reorg payee {number}").p2pkh_address,
            provenance_reference=f"Bench order {number}",
        )
        transfer_propose(transfer=transfer, actor=people["operator"])
        pending.append(transfer_approve(transfer=transfer, actor=people["approver1"]))

    def approve(transfer: Any) -> float:
        started = time.perf_counter()
        transfer_approve(transfer=transfer, actor=people["approver2"])
        return time.perf_counter() - started

    alone = [approve(transfer) for transfer in pending[: options.approvals]]
    rest = pending[options.approvals :]
    chain.mine([chain.pay(key.p2pkh_script, options.bookings)])
    during: list[float] = []
    scanning = threading.Event()
    done = threading.Event()

    def approver() -> None:
        try:
            scanning.wait()
            while rest and not done.is_set():
                during.append(approve(rest.pop(0)))
                time.sleep(0.005)  # a steady trickle of approvals, not a queue
        finally:
            connection.close()

    thread = threading.Thread(target=approver)
    thread.start()
    started = time.perf_counter()
    scanning.set()
    wallet_scan(wallet=wallet, source=chain.source)
    block_seconds = time.perf_counter() - started
    done.set()
    thread.join()
    return alone, during or [0.0], block_seconds


if __name__ == "__main__":
    sys.exit(main())
