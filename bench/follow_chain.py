"""The chain follower end to end on a regtest node: blocks/s of `wallet_scan` with its commits.

Usage: .venv/bin/python bench/follow_chain.py [--blocks N] [--paid N] [--smoke]

Creates a scratch database (dropped afterwards) and a regtest bcoin node, mines `--blocks`
blocks paying nobody we watch and then `--paid` blocks whose coinbase pays a watched key,
and times two wallets: one that nothing pays (headers verified and recorded, cursor batches)
and one paid in every block (each block commits alone with an observed transfer, its ledger
posting, the policy's detective check and a discrepancy). Regtest blocks are tiny: the
figures measure the follower's own cost per block, not parsing (see bench/scan_blocks.py).

--smoke: 20 blocks paying nobody, 5 paying the wallet (CI: tests/bench/).
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
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--paid", type=int, default=200)
    smoke_defaults(parser, {"blocks": 20, "paid": 5})
    options = parser.parse_args()

    name = f"bench_follow_{uuid.uuid4().hex[:10]}"
    os.environ["DATABASE_URL"] = create_database(name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    try:
        return _run(options.blocks, options.paid)
    finally:
        drop_database(name)


def _run(blocks: int, paid: int) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from reserve.chain.regtest_node import RegtestNode
    from reserve.custody.services import agency_create, wallet_register
    from reserve.reconciliation.follower import wallet_scan
    from tests.regtest.keys import WalletKey

    call_command("migrate", verbosity=0)
    actor = get_user_model().objects.create_superuser(username="bench", password=None)
    agency = agency_create(name="Bench", kind="other", actor=actor)
    nobody, payee, filler = WalletKey("bench nobody"), WalletKey("bench payee"), WalletKey("bench filler")
    with RegtestNode() as node, node.source() as source:
        source.call("generatetoaddress", blocks, filler.p2wpkh_address, retry=False)
        first_paid = source.block_count() + 1
        source.call("generatetoaddress", paid, payee.p2wpkh_address, retry=False)
        results = []
        for label, key, birthday in (
            ("nothing pays the wallet", nobody, 0),
            ("every block pays the wallet", payee, first_paid),
        ):
            wallet = wallet_register(
                name=f"bench-{key.label.split()[-1]}",
                agency=agency,
                kind="cold",
                network="regtest",
                birthday_height=birthday,
                addresses=[key.p2wpkh_address],
                actor=actor,
            )
            started = time.perf_counter()
            result = wallet_scan(wallet=wallet, source=source)
            elapsed = time.perf_counter() - started
            results.append((label, result.blocks_scanned, elapsed, result.bookings.observed))
    print(f"{'wallet':<30} {'blocks':>7} {'seconds':>8} {'blocks/s':>9} {'observed':>9}")
    for label, count, elapsed, observed in results:
        print(f"{label:<30} {count:>7} {elapsed:>8.2f} {count / elapsed:>9.1f} {observed:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
