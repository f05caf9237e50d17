"""Reorg handling on a regtest node: seconds to follow a reorg of depth k on a wallet with a long
history, against following the same number of new blocks without a reorg (the baseline, timed
in the same process on the same wallet): the ratio is what the reorg itself costs.

Usage: .venv/bin/python bench/reorg.py [--history N] [--depths 1,10] [--smoke]

Creates a scratch database (dropped afterwards) and a regtest bcoin node, mines `--history`
blocks whose coinbase pays a watched key (each one a UTXO and an observed transfer with its
ledger posting), scans them, then for each depth k: submits a competing branch of k + 1 blocks
paying nobody we watch from below the top k, and times the scan that rewinds and follows the new branch;
then mines k + 1 more and times the plain scan. A reorg must cost what it touches (k blocks'
bookings), not the wallet's history: the ratio stays flat as --history grows.

--smoke: 20 blocks of history, depths 1 and 3 (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from ledger_common import create_database, drop_database, smoke_defaults  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--depths", default="1,10")
    smoke_defaults(parser, {"history": 20, "depths": "1,3"})
    options = parser.parse_args()
    depths = [int(depth) for depth in options.depths.split(",")]

    name = f"bench_reorg_{uuid.uuid4().hex[:10]}"
    os.environ["DATABASE_URL"] = create_database(name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    try:
        return _run(options.history, depths)
    finally:
        drop_database(name)


def _run(history: int, depths: list[int]) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from reserve.custody.services import agency_create, wallet_register
    from reserve.reconciliation.follower import wallet_scan
    from reserve.reconciliation.models import WalletUtxo
    from reserve.transfers.models import Transfer
    from tests.regtest.blocks import mine_block
    from tests.regtest.keys import WalletKey
    from tests.regtest.node import RegtestNode

    call_command("migrate", verbosity=0)
    actor = get_user_model().objects.create_superuser(username="bench", password=None)
    agency = agency_create(name="Bench", kind="other", actor=actor)
    payee, filler = WalletKey("bench reorg payee"), WalletKey("bench reorg filler")
    rows = []
    with RegtestNode() as node, node.source() as source:
        source.generate_to_address(history, payee.p2wpkh_address)
        wallet = wallet_register(
            name="bench-reorg",
            agency=agency,
            kind="cold",
            network="regtest",
            birthday_height=1,
            addresses=[payee.p2wpkh_address],
            actor=actor,
        )
        started = time.perf_counter()
        wallet_scan(wallet=wallet, source=source)
        setup_seconds = time.perf_counter() - started
        utxos = WalletUtxo.objects.filter(wallet=wallet).count()
        transfers = Transfer.objects.filter(destination_wallet=wallet).count()
        for depth in depths:
            # A competing branch of depth + 1 blocks from below the top `depth` ones: more work wins.
            parent = source.block_hash(source.block_count() - depth)
            branch = WalletKey(f"bench reorg branch {depth}")  # a payout of its own: no block mined twice
            for _ in range(depth + 1):
                parent = mine_block(source, payout_script=branch.p2wpkh_script, parent_hash=parent)
            started = time.perf_counter()
            result = wallet_scan(wallet=wallet, source=source)
            reorg_seconds = time.perf_counter() - started
            assert result.reorgs == 1, result
            source.generate_to_address(depth + 1, filler.p2wpkh_address)
            started = time.perf_counter()
            wallet_scan(wallet=wallet, source=source)
            forward_seconds = time.perf_counter() - started
            rows.append((depth, reorg_seconds, forward_seconds))
    print(f"history: {history} blocks, {utxos} UTXOs, {transfers} transfers (scanned in {setup_seconds:.2f} s)")
    print(f"{'depth':>5} {'reorg s':>9} {'forward s':>10} {'ratio':>7}")
    for depth, reorg_seconds, forward_seconds in rows:
        print(f"{depth:>5} {reorg_seconds:>9.3f} {forward_seconds:>10.3f} {reorg_seconds / forward_seconds:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
