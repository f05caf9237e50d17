"""As-of balance latency at 10^4..10^6 entries (10^7 with --sizes), with and without checkpoints.

    .venv/bin/python bench/ledger_as_of.py [--sizes 10000 100000 1000000] [--queries 200]

Builds one fresh database (`bench_ledger_as_of`) and grows it to each size in turn with
set-based SQL inserts that go through the ledger's triggers (balances, running balances,
zero-sum checks), without hashing: the chain is not what is measured here. Half of all
entries hit one account ("hot"), the worst case for a per-account answer; 1% of
transactions are back-dated by up to 30 days and 10% carry no block height. At each size
it times as-of queries on the hot account through the selectors (Django included):
occurred_at before the new entries are checkpointed, then, after ledger_checkpoint_refresh,
occurred_at, block_height and posted_at, and balances_as_of over all 10 accounts.
Every answer is checked against a plain SUM over the entries.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_common import ROOT, django_ready, machine_info, use_bench_database

START = datetime(2020, 1, 1, tzinfo=UTC)
STEP_SECONDS = 10
BLOCK_EVERY = 3  # transactions per block
# Transactions per database transaction while loading. Kept small on purpose: every entry
# updates its account's balance row, and PostgreSQL walks all of a row's versions made by
# the same open transaction, so one huge load transaction on a hot account is quadratic.
CHUNK = 2_000

LOAD_SQL = """
WITH new AS (
    SELECT g AS sequence,
           %(start)s::timestamptz + make_interval(secs => g * %(step)s)
             - CASE WHEN random() < 0.01 THEN make_interval(days => (random() * 30)::int) ELSE interval '0' END
             AS occurred_at,
           CASE WHEN random() < 0.1 THEN NULL ELSE g / %(block_every)s END AS block_height
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
)
INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at, posted_at,
    block_height, kind, memo, metadata, prev_hash, hash)
SELECT gen_random_uuid(), sequence, 'bench-' || sequence, '', occurred_at, clock_timestamp(), block_height,
       'bench', '', '{}', '', ''
FROM new ORDER BY sequence
"""

ENTRIES_SQL = """
INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)
SELECT t.id, leg.account_id, leg.amount_sats, 'BTC', 0, 0
FROM ledger_journaltransaction t,
     LATERAL (SELECT (1 + (hashint8(t.sequence) & 1023) %% 100000) * (CASE WHEN t.sequence %% 2 = 0 THEN 1 ELSE -1 END)
                     AS sats) amount,
     LATERAL (VALUES (1, %(hot)s::bigint, amount.sats),
                     (2, (%(others)s::bigint[])[1 + t.sequence %% %(other_count)s], -amount.sats))
             AS leg(position, account_id, amount_sats)
WHERE t.sequence BETWEEN %(first)s AND %(last)s
ORDER BY t.sequence, leg.position
"""


def load(first: int, last: int, hot: int, others: list[int]) -> None:
    from django.db import connection, transaction

    for chunk_first in range(first, last + 1, CHUNK):
        chunk_last = min(last, chunk_first + CHUNK - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                LOAD_SQL,
                {
                    "start": START,
                    "step": STEP_SECONDS,
                    "block_every": BLOCK_EVERY,
                    "first": chunk_first,
                    "last": chunk_last,
                },
            )
            cursor.execute(
                ENTRIES_SQL,
                {"hot": hot, "others": others, "other_count": len(others), "first": chunk_first, "last": chunk_last},
            )
    with connection.cursor() as cursor:
        # Steady state: autovacuum keeps the visibility map current, which index-only scans need.
        cursor.execute("VACUUM ANALYZE ledger_entry")
        cursor.execute("VACUUM ANALYZE ledger_journaltransaction")


def plain_sum(account_id: int, column: str, value: Any) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if column == "posted_at":
            cursor.execute(
                "SELECT coalesce(sum(e.amount_sats), 0) FROM ledger_entry e JOIN ledger_journaltransaction t "
                "ON t.id = e.transaction_id WHERE e.account_id = %s AND t.posted_at <= %s",
                [account_id, value],
            )
        else:
            cursor.execute(
                f"SELECT coalesce(sum(amount_sats), 0) FROM ledger_entry WHERE account_id = %s AND {column} <= %s",
                [account_id, value],
            )
        return int(cursor.fetchone()[0])


def timed(samples: list[tuple[str, Any]], account: Any, check: int) -> dict[str, float]:
    from ledger.selectors import account_balance_as_of

    latencies = []
    for index, (column, value) in enumerate(samples):
        began = time.perf_counter()
        answer = account_balance_as_of(account=account, **{column: value})
        latencies.append((time.perf_counter() - began) * 1000)
        if index < check and answer != plain_sum(account.pk, column, value):
            raise AssertionError(f"as-of {column}={value} gave {answer}, entries say otherwise")
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000], help="total entries")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--every", type=int, help="entries between checkpoints (default: the service default)")
    args = parser.parse_args()

    use_bench_database("bench_ledger_as_of")
    django_ready(migrate=True)
    info = machine_info()
    print("machine:", ", ".join(f"{key}={value}" for key, value in info.items()))

    from django.db import connection

    from ledger.models import AccountType
    from ledger.selectors import balances_as_of
    from ledger.services import account_create, ledger_checkpoint_refresh
    from ledger.services.checkpoints import CHECKPOINT_EVERY

    every = args.every or CHECKPOINT_EVERY

    hot = account_create(code="assets:bench:hot", account_type=AccountType.ASSET)
    others = [account_create(code=f"assets:bench:o{index}", account_type=AccountType.ASSET) for index in range(9)]
    rng = random.Random(7)
    rows = []
    loaded = 0
    for size in sorted(args.sizes):
        transactions = size // 2
        began = time.perf_counter()
        load(loaded + 1, transactions, hot.pk, [other.pk for other in others])
        load_seconds = time.perf_counter() - began
        loaded = transactions
        span_seconds = transactions * STEP_SECONDS
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(posted_at), max(posted_at) FROM ledger_journaltransaction")
            first_posted, last_posted = cursor.fetchone()

        def occurred(span: int = span_seconds) -> datetime:
            return START + timedelta(seconds=rng.uniform(0, span))

        before = timed([("occurred_at", occurred()) for _ in range(args.queries // 4)], hot, check=3)
        began = time.perf_counter()
        written = ledger_checkpoint_refresh(every=every)
        refresh_seconds = time.perf_counter() - began
        posted_span = (last_posted - first_posted).total_seconds()
        result = {
            "entries": size,
            "hot_account_entries": transactions,
            "load_s": round(load_seconds, 1),
            "checkpoint_refresh_s": round(refresh_seconds, 2),
            "checkpoints_written": written,
            "occurred_at_before_refresh": before,
            "occurred_at": timed([("occurred_at", occurred()) for _ in range(args.queries)], hot, check=5),
            "block_height": timed(
                [("block_height", rng.randint(0, transactions // BLOCK_EVERY)) for _ in range(args.queries)],
                hot,
                check=5,
            ),
            "posted_at": timed(
                [
                    ("posted_at", first_posted + timedelta(seconds=rng.uniform(0, posted_span)))
                    for _ in range(args.queries)
                ],
                hot,
                check=5,
            ),
        }
        accounts = [hot, *others]
        began = time.perf_counter()
        for _ in range(20):
            balances_as_of(accounts=accounts, occurred_at=occurred())
        result["balances_as_of_10_accounts_ms"] = (time.perf_counter() - began) * 1000 / 20
        rows.append(result)
        print(json.dumps(result))

    print(
        f"{'entries':>9} {'occurred p50/p99 ms':>20} {'height p50/p99':>15} {'posted p50/p99':>15} "
        f"{'no-cp occurred p50':>19} {'10 accts ms':>11} {'refresh s':>9}"
    )
    for row in rows:

        def pair(key: str, row: dict = row) -> str:
            return f"{row[key]['p50_ms']:.2f}/{row[key]['p99_ms']:.2f}"

        print(
            f"{row['entries']:>9} {pair('occurred_at'):>20} {pair('block_height'):>15} {pair('posted_at'):>15} "
            f"{row['occurred_at_before_refresh']['p50_ms']:>19.2f} {row['balances_as_of_10_accounts_ms']:>11.2f} "
            f"{row['checkpoint_refresh_s']:>9}"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "ledger_as_of.json").write_text(
        json.dumps({"machine": info, "args": vars(args), "rows": rows}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
