"""Postings/s through post_transaction at 1 and 8 processes, hash chain on and off, next to pgbench.

    .venv/bin/python bench/ledger_posting.py [--seconds 10] [--clients 1 8] [--scale 10] [--smoke]

Everything runs in one fresh database (`bench_ledger`) on the same server in the same
run: pgbench's TPC-B-like tables beside the ledger's. "chain off" replaces the chain
step (advisory lock + head read) by a plain sequence, to show what the chain costs;
it runs after "chain on" because it leaves the chain unverifiable.

--smoke: 1 s per measurement, 2 clients, a 200-transaction import, in a scratch database
dropped afterwards (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_common import PG_BIN, ROOT, django_ready, machine_info, smoke_defaults, use_bench_database

WALLETS = 100


CHAIN_STEP = """    PERFORM pg_advisory_xact_lock(1279607879, 1);
    SELECT t.sequence, t.hash INTO out_sequence, out_prev_hash
      FROM ledger_journaltransaction t ORDER BY t.sequence DESC LIMIT 1;
    out_sequence := coalesce(out_sequence, 0) + 1;
    out_prev_hash := coalesce(out_prev_hash, repeat('0', 64));"""
UNCHAINED_STEP = """    out_sequence := nextval('bench_unchained_sequence');
    out_prev_hash := repeat('0', 64);"""


def create_unchained_append(start: int) -> None:
    """ledger_append with the chain step (advisory lock + head read) replaced by nextval().

    The database's link guard (which takes the same lock and checks the head) is disabled
    for the rest of the run: without it there is no chain at all, which is the point.
    """
    from django.db import connection

    sql = (ROOT / "ledger/sql/0003_ledger_append.sql").read_text()
    function = sql[sql.index("CREATE OR REPLACE FUNCTION ledger_append(") :]
    if CHAIN_STEP not in function:
        raise RuntimeError("ledger_append changed; update CHAIN_STEP in bench/ledger_posting.py")
    function = function.replace(CHAIN_STEP, UNCHAINED_STEP).replace(
        "ledger_append(", "bench_ledger_append_unchained(", 1
    )
    from config.database_roles import as_owner, service_role

    # Schema changes are the owner's; the clients (the service role) may then call and nextval.
    role = service_role()
    with as_owner(), connection.cursor() as cursor:
        cursor.execute(f"CREATE SEQUENCE bench_unchained_sequence START {start}")
        cursor.execute(function)
        cursor.execute("ALTER TABLE ledger_journaltransaction DISABLE TRIGGER ledger_journaltransaction_link")
        if role is not None:
            cursor.execute(f'GRANT USAGE ON SEQUENCE bench_unchained_sequence TO "{role}"')


def _worker(chain: str, seconds: float, wallet_ids: list[int], seed: int, barrier: Any, results: Any) -> None:
    django_ready(migrate=False)
    import ledger.chain
    from ledger.models import Account
    from ledger.services import EntrySpec, post_transaction

    if chain == "off":
        ledger.chain.APPEND_FUNCTION = "bench_ledger_append_unchained"
    rng = random.Random(seed)
    wallets = list(Account.objects.filter(pk__in=wallet_ids))
    barrier.wait()
    started = time.perf_counter()
    count = 0
    while time.perf_counter() - started < seconds:
        source, target = rng.sample(wallets, 2)
        sats = rng.randint(1, 100_000)
        post_transaction(
            idempotency_key=f"bench-{chain}-{seed}-{count}",
            entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
            kind="bench",
        )
        count += 1
    results.put((count, time.perf_counter() - started))


def ledger_run(chain: str, clients: int, seconds: float, wallet_ids: list[int]) -> float:
    context = mp.get_context("spawn")
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(chain, seconds, wallet_ids, 1000 * clients + index, barrier, results))
        for index in range(clients)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    return sum(count for count, _ in outcomes) / max(elapsed for _, elapsed in outcomes)


def import_run(wallet_ids: list[int], transactions: int) -> float:
    """Transactions/s through the batch path (ledger_import_csv), one file, one DB transaction."""
    from ledger.models import Account
    from ledger.services import ledger_import_csv

    codes = list(Account.objects.filter(pk__in=wallet_ids).values_list("code", flat=True))
    rng = random.Random(99)
    lines = ["idempotency_key,occurred_at,kind,account,amount_sats\n"]
    for index in range(transactions):
        source, target = rng.sample(codes, 2)
        sats = rng.randint(1, 100_000)
        occurred = (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=index)).isoformat()
        lines.append(f"import-{index},{occurred},bench,{target},{sats}\n")
        lines.append(f"import-{index},{occurred},bench,{source},{-sats}\n")
    began = time.perf_counter()
    result = ledger_import_csv(rows=lines)
    elapsed = time.perf_counter() - began
    assert result.transactions_posted == transactions
    return transactions / elapsed


def pgbench(url: str, *args: str) -> str:
    return subprocess.run([str(PG_BIN / "pgbench"), *args, url], check=True, capture_output=True, text=True).stdout


def pgbench_run(url: str, clients: int, seconds: float) -> float:
    output = pgbench(
        url, "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(int(seconds))
    )
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output)
    if match is None:
        raise RuntimeError(f"unexpected pgbench output:\n{output}")
    return float(match.group(1))


def setup_ledger() -> list[int]:
    from ledger.models import AccountType
    from ledger.services import EntrySpec, account_create, post_transaction

    source = account_create(code="equity:bench", account_type=AccountType.EQUITY)
    wallets = [
        account_create(code=f"assets:bench:w{index:03d}", account_type=AccountType.ASSET, non_negative=True)
        for index in range(WALLETS)
    ]
    for wallet in wallets:
        post_transaction(
            idempotency_key=f"fund-{wallet.pk}",
            entries=[EntrySpec(account=wallet, amount_sats=10**14), EntrySpec(account=source, amount_sats=-(10**14))],
            kind="bench",
        )
    return [wallet.pk for wallet in wallets]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (>= clients, as pgbench advises)")
    parser.add_argument("--import-transactions", type=int, default=5000, help="size of the batch-import file")
    smoke_defaults(parser, {"seconds": 1.0, "clients": [2], "scale": 2, "import_transactions": 200})
    args = parser.parse_args()

    use_bench_database("bench_ledger", scratch=args.smoke)
    # pgbench is the database's own baseline: its tables are made by the owner
    url = os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"]
    django_ready(migrate=True)
    info = machine_info()
    print("machine:", ", ".join(f"{key}={value}" for key, value in info.items()))
    pgbench(url, "-i", "-q", "-s", str(args.scale))
    wallet_ids = setup_ledger()

    from django.db import connection

    rows: list[dict[str, object]] = []
    for clients in args.clients:
        rows.append({"clients": clients, "pgbench_tps": pgbench_run(url, clients, args.seconds)})
    batch_per_s = import_run(wallet_ids, args.import_transactions)
    verification: dict[str, float] = {}
    for chain in ("on", "off"):
        if chain == "off":
            # The whole chain is still intact here: time what an auditor's verification costs.
            from ledger.selectors import verify_chain

            began = time.perf_counter()
            result = verify_chain()
            verification = {"transactions": result.length, "seconds": time.perf_counter() - began}
            assert result.ok, result
            with connection.cursor() as cursor:
                cursor.execute("SELECT coalesce(max(sequence), 0) + 1 FROM ledger_journaltransaction")
                (start,) = cursor.fetchone()
            create_unchained_append(int(start))
        connection.close()
        for row in rows:
            row[f"chain_{chain}_per_s"] = ledger_run(chain, int(row["clients"]), args.seconds, wallet_ids)  # type: ignore[call-overload]
    # pgbench again after the ledger runs, so drift over the run shows.
    for row in rows:
        row["pgbench_tps_after"] = pgbench_run(url, int(row["clients"]), args.seconds)  # type: ignore[call-overload]

    header = ("clients", "pgbench tps", "chain on /s", "ratio", "chain off /s", "ratio", "pgbench after")
    print("{:>7} {:>12} {:>12} {:>6} {:>13} {:>6} {:>14}".format(*header))
    for row in rows:
        reference = (float(row["pgbench_tps"]) + float(row["pgbench_tps_after"])) / 2  # type: ignore[arg-type]
        on, off = float(row["chain_on_per_s"]), float(row["chain_off_per_s"])  # type: ignore[arg-type]
        print(
            f"{row['clients']:>7} {row['pgbench_tps']:>12.0f} {on:>12.0f} {on / reference:>6.2f} "
            f"{off:>13.0f} {off / reference:>6.2f} {row['pgbench_tps_after']:>14.0f}"
        )
    print(f"batch import (ledger_import_csv, {args.import_transactions} transactions in one file): {batch_per_s:.0f}/s")
    print(f"verify_chain: {verification['transactions']:.0f} transactions in {verification['seconds']:.1f} s")
    if args.smoke:
        return  # smoke figures would overwrite a real run's
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    report = {
        "machine": info,
        "args": vars(args),
        "rows": rows,
        "batch_import_per_s": batch_per_s,
        "verify_chain": verification,
    }
    (results / "ledger_posting.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
