"""Postings/s through post_transaction at 1 and 8 processes while the log's sealer runs, next to pgbench:
through the ledger alone, and through the policy's posting gate first ("gated", bench/policy_gate.py).

    .venv/bin/python bench/ledger_posting.py [--seconds 10] [--clients 1 8] [--scale 10] [--smoke]

Everything runs in one fresh database (`bench_ledger_<random hex>`, dropped at exit) on
the same server in the same run: pgbench's TPC-B-like tables beside the ledger's. While
the clients post, one more process seals the transparency log every LEDGER_LOG_SEAL_SECONDS (ledger/log/sealer.py), as
beat does; the sealing lag of a posting is the time from its posted_at to the timestamp
of the first signed head that includes it (p50/p99 per client count). Then the batch
import, post_batch, verify_chain and verify_log (the whole log: leaves recomputed, heads checked) are
timed.

Each client also reports its CPU per posting: its own (time.process_time) and its server
backend's (user + system time from /proc/<backend pid>/stat, when the server runs on this
machine), so a saving shows on a loaded machine where wall-clock rates swing.

--smoke: 1 s per measurement, 2 clients, 4 gated wallets, a 200-transaction import (CI: tests/bench/).
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_common import (
    PG_BIN,
    ROOT,
    backend_cpu_seconds,
    backend_pid,
    django_ready,
    machine_info,
    smoke_defaults,
    use_bench_database,
)
from policy_gate import gated_post, gated_wallets, setup_gated_wallets

WALLETS = 100


def _sealer(stop: Any, done: Any) -> None:
    """Seal every LEDGER_LOG_SEAL_SECONDS until told to stop and nothing is left to seal."""
    django_ready(migrate=False)
    from django.conf import settings

    from ledger.log.sealer import seal_log
    from ledger.models import LogPending

    while True:
        started = time.monotonic()
        seal_log()
        if stop.is_set() and not LogPending.objects.exists():
            break
        time.sleep(max(0.0, settings.LEDGER_LOG_SEAL_SECONDS - (time.monotonic() - started)))
    done.set()


def _worker(seconds: float, mode: str, seed: int, barrier: Any, results: Any) -> None:
    """Post for `seconds`: through the ledger alone, or through the policy's posting gate first ("gated").
    Reports (postings, seconds, client CPU s, server backend CPU s or None)."""
    django_ready(migrate=False)
    from django.db import connection

    from ledger.models import Account
    from ledger.services import EntrySpec, post_transaction

    rng = random.Random(seed)
    if mode == "gated":
        from reserve.compliance.facts import ReservePolicyFacts

        gated, facts = gated_wallets(), ReservePolicyFacts()
    else:
        wallets = list(Account.objects.filter(code__startswith="assets:bench:w"))
    backend = backend_pid(connection)
    barrier.wait()
    cpu, server = time.process_time(), backend_cpu_seconds(backend)
    started = time.perf_counter()
    count = 0
    while time.perf_counter() - started < seconds:
        if mode == "gated":
            gated_post(rng, gated, key=f"gated-{seed}-{count}", facts=facts)
        else:
            source, target = rng.sample(wallets, 2)
            sats = rng.randint(1, 100_000)
            post_transaction(
                idempotency_key=f"bench-{seed}-{count}",
                entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
                kind="bench",
            )
        count += 1
    elapsed = time.perf_counter() - started
    server_after = backend_cpu_seconds(backend)
    server_cpu = None if server is None or server_after is None else server_after - server
    results.put((count, elapsed, time.process_time() - cpu, server_cpu))


@dataclass(frozen=True)
class PostingRun:
    per_s: float
    lag_p50_ms: float
    lag_p99_ms: float
    client_cpu_ms: float  # per posting, summed over the clients
    server_cpu_ms: float | None  # per posting, the clients' backends (None: server not on this machine)


def ledger_run(clients: int, seconds: float, mode: str) -> PostingRun:
    """Postings/s of `clients` processes with the sealer running, the sealing lag and the CPU per posting."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(clients)
    results = context.Queue()
    stop, done = context.Event(), context.Event()
    sealer = context.Process(target=_sealer, args=(stop, done))
    sealer.start()
    processes = [
        context.Process(target=_worker, args=(seconds, mode, 1000 * clients + index, barrier, results))
        for index in range(clients)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    stop.set()
    if not done.wait(timeout=120):
        raise RuntimeError("the sealer did not catch up within 120 s")
    sealer.join()
    prefix = "gated" if mode == "gated" else "bench"
    p50, p99 = sealing_lag_ms(f"{prefix}-{1000 * clients}")
    count = sum(outcome[0] for outcome in outcomes)
    servers = [outcome[3] for outcome in outcomes]
    return PostingRun(
        per_s=count / max(outcome[1] for outcome in outcomes),
        lag_p50_ms=p50,
        lag_p99_ms=p99,
        client_cpu_ms=1000 * sum(outcome[2] for outcome in outcomes) / max(count, 1),
        server_cpu_ms=None if None in servers else 1000 * sum(servers) / max(count, 1),
    )


def sealing_lag_ms(key_prefix: str) -> tuple[float, float]:
    """p50/p99 of (timestamp of the first signed head holding the posting) - posted_at, in ms."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY lag) FROM ("
            " SELECT (SELECT min(h.timestamp_ms) FROM ledger_signedtreehead h WHERE h.tree_size > l.index)"
            "        - extract(epoch FROM t.posted_at) * 1000 AS lag"
            " FROM ledger_logleaf l JOIN ledger_journaltransaction t ON t.id = l.transaction_id"
            " WHERE t.idempotency_key LIKE %s) lags",
            [key_prefix + "%"],
        )
        (lags,) = cursor.fetchone()
    return float(lags[0]), float(lags[1])


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
    assert result.transactions_posted == transactions, result
    return transactions / elapsed


def post_batch_run(wallet_ids: list[int], transactions: int) -> float:
    """Transactions/s through post_batch, in calls of at most MAX_BATCH transactions."""
    from ledger.models import Account
    from ledger.services import EntrySpec, PostingSpec, post_batch
    from ledger.services.batch import MAX_BATCH

    wallets = list(Account.objects.filter(pk__in=wallet_ids))
    rng = random.Random(98)
    specs = []
    for index in range(transactions):
        source, target = rng.sample(wallets, 2)
        sats = rng.randint(1, 100_000)
        entries = [EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)]
        specs.append(PostingSpec(idempotency_key=f"batch-{index}", entries=entries, kind="bench"))
    began = time.perf_counter()
    for start in range(0, transactions, MAX_BATCH):
        post_batch(postings=specs[start : start + MAX_BATCH])
    return transactions / (time.perf_counter() - began)


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


def setup_ledger(wallets: int) -> list[int]:
    """WALLETS ledger accounts for the ledger-only clients, `wallets` reserve wallets under policies
    for the gated ones (bench/policy_gate.py), all funded from one equity account."""
    from ledger.models import Account, AccountType
    from ledger.services import EntrySpec, account_create, post_transaction

    source = account_create(code="equity:bench", account_type=AccountType.EQUITY)

    def fund(account: Account) -> None:
        post_transaction(
            idempotency_key=f"fund-{account.pk}",
            entries=[EntrySpec(account=account, amount_sats=10**14), EntrySpec(account=source, amount_sats=-(10**14))],
            kind="bench",
        )

    accounts = [
        account_create(code=f"assets:bench:w{index:03d}", account_type=AccountType.ASSET, non_negative=True)
        for index in range(WALLETS)
    ]
    for account in accounts:
        fund(account)
    setup_gated_wallets(wallets, fund=fund)
    return [account.pk for account in accounts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale factor (>= clients, as pgbench advises)")
    parser.add_argument("--import-transactions", type=int, default=5000, help="size of the batch-import file")
    parser.add_argument("--gated-wallets", type=int, default=100, help="reserve wallets under policies (gated runs)")
    smoke_defaults(parser, {"seconds": 1.0, "clients": [2], "scale": 2, "import_transactions": 200, "gated_wallets": 4})
    args = parser.parse_args()

    # a name of its own per run, dropped at exit: two runs (or a run and CI's smoke) never share one
    database_url = use_bench_database("bench_ledger", scratch=True)
    print("database:", database_url.rsplit("/", 1)[-1])
    # pgbench is the database's own baseline: its tables are made by the owner
    url = os.environ.get("DATABASE_OWNER_URL") or os.environ["DATABASE_URL"]
    django_ready(migrate=True)
    info = machine_info()
    print("machine:", ", ".join(f"{key}={value}" for key, value in info.items()))
    pgbench(url, "-i", "-q", "-s", str(args.scale))
    wallet_ids = setup_ledger(args.gated_wallets)

    from django.db import connection

    rows: list[dict[str, object]] = []
    for clients in args.clients:
        rows.append({"clients": clients, "pgbench_tps": pgbench_run(url, clients, args.seconds)})
    batch_per_s = import_run(wallet_ids, args.import_transactions)
    post_batch_per_s = post_batch_run(wallet_ids, args.import_transactions)
    connection.close()
    for row in rows:
        clients = int(row["clients"])  # type: ignore[call-overload]
        for mode in ("ledger", "gated"):
            row[mode] = asdict(ledger_run(clients, args.seconds, mode))
    # pgbench again after the ledger runs, so drift over the run shows.
    for row in rows:
        row["pgbench_tps_after"] = pgbench_run(url, int(row["clients"]), args.seconds)  # type: ignore[call-overload]
    from ledger.log.sealer import seal_log
    from ledger.log.selectors import verify_log
    from ledger.selectors import verify_chain

    seal_log()
    began = time.perf_counter()
    chain = verify_chain()
    verification = {"transactions": chain.length, "seconds": time.perf_counter() - began}
    assert chain.ok, chain
    began = time.perf_counter()
    log = verify_log()
    log_verification = {"leaves": log.tree_size, "seconds": time.perf_counter() - began}
    assert log.ok, log

    header = ("clients", "pgbench tps", "ledger /s", "ratio", "gated /s", "ratio", "lag p50 ms", "lag p99 ms")
    print("{:>7} {:>12} {:>10} {:>6} {:>10} {:>6} {:>11} {:>11} {:>14}".format(*header, "pgbench after"))
    for row in rows:
        reference = (float(row["pgbench_tps"]) + float(row["pgbench_tps_after"])) / 2  # type: ignore[arg-type]
        ledger, gated = row["ledger"], row["gated"]
        assert isinstance(ledger, dict) and isinstance(gated, dict)
        print(
            f"{row['clients']:>7} {row['pgbench_tps']:>12.0f} {ledger['per_s']:>10.0f} "
            f"{ledger['per_s'] / reference:>6.2f} {gated['per_s']:>10.0f} {gated['per_s'] / reference:>6.2f} "
            f"{ledger['lag_p50_ms']:>11.0f} {ledger['lag_p99_ms']:>11.0f} {row['pgbench_tps_after']:>14.0f}"
        )
    for row in rows:
        for mode in ("ledger", "gated"):
            run = row[mode]
            assert isinstance(run, dict)
            server = "n/a" if run["server_cpu_ms"] is None else f"{run['server_cpu_ms']:.2f} ms"
            print(
                f"cpu per posting, {mode}, {row['clients']} clients: client {run['client_cpu_ms']:.2f} ms, "
                f"server {server}"
            )
    print(f"batch import (ledger_import_csv, {args.import_transactions} transactions in one file): {batch_per_s:.0f}/s")
    print(f"post_batch ({args.import_transactions} transactions, calls of 1000): {post_batch_per_s:.0f}/s")
    print(f"verify_chain: {verification['transactions']:.0f} transactions in {verification['seconds']:.1f} s")
    rate = log_verification["leaves"] / max(log_verification["seconds"], 1e-9)
    print(f"verify_log: {log_verification['leaves']:.0f} leaves in {log_verification['seconds']:.2f} s ({rate:.0f}/s)")
    if args.smoke:
        return  # smoke figures would overwrite a real run's
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    report = {
        "machine": info,
        "args": vars(args),
        "rows": rows,
        "batch_import_per_s": batch_per_s,
        "post_batch_per_s": post_batch_per_s,
        "verify_chain": verification,
        "verify_log": log_verification,
    }
    (results / "ledger_posting.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
