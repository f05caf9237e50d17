"""As-of balance latency at 10^4..10^6 entries (10^7 with --sizes), with and without checkpoints.

    .venv/bin/python bench/ledger_as_of.py [--sizes 10000 100000 1000000] [--queries 200] [--smoke]

Builds one fresh database (`bench_ledger_as_of`) and grows it to each size in turn with
set-based inserts (one INSERT ... SELECT FROM unnest per table and chunk) that go through
the ledger's triggers (balances, running balances, zero-sum checks) and its number guard:
each chunk takes its numbers as the batch import does (`journal_numbers`) and its rows
carry the hashes of the ledger's own recipe (`posting_content_digest`, `link_hash`), so
they verify (`verify_chain` checks it after the first size). Each transaction gets its own
posted_at (the chunk's numbering time plus one microsecond per transaction), as single
postings do; the import gives one posted_at to a whole file. Half of all
entries hit one account ("hot"), the worst case for a per-account answer; 1% of
transactions are back-dated by up to 30 days and 10% carry no block height. At each size
it times as-of queries on the hot account through the selectors (Django included):
occurred_at before the new entries are checkpointed, then, after ledger_checkpoint_refresh,
occurred_at, block_height and posted_at, and balances_as_of over all 10 accounts.
Every answer is checked against a plain SUM over the entries, and at each size
`verify_stored_values` (what verify_ledger checks beyond the chain) is timed and must say ok.

--smoke: two tiny sizes in a scratch database dropped afterwards (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_common import ROOT, django_ready, machine_info, smoke_defaults, use_bench_database

START = datetime(2020, 1, 1, tzinfo=UTC)
STEP_SECONDS = 10
BLOCK_EVERY = 3  # transactions per block
KIND = "bench"
# Transactions per database transaction while loading (each takes its numbers from the sequence once).
CHUNK = 2_000

TRANSACTIONS_SQL = """
INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at, posted_at,
    block_height, kind, memo, metadata, prev_hash, hash)
SELECT id, sequence, key, '', occurred_at, posted_at, block_height, %(kind)s, '', '{}', prev_hash, hash
FROM unnest(%(ids)s::uuid[], %(sequences)s::bigint[], %(keys)s::text[], %(occurred)s::timestamptz[],
            %(posted)s::timestamptz[], %(heights)s::bigint[], %(prev_hashes)s::text[], %(hashes)s::text[])
     AS t(id, sequence, key, occurred_at, posted_at, block_height, prev_hash, hash)
ORDER BY sequence
"""

ENTRIES_SQL = """
INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)
SELECT transaction_id, account_id, amount_sats, 'BTC', 0, 0
FROM unnest(%(transactions)s::uuid[], %(accounts)s::bigint[], %(amounts)s::bigint[]) WITH ORDINALITY
     AS e(transaction_id, account_id, amount_sats, position)
ORDER BY position
"""


def load(first: int, last: int, hot: Any, others: list[Any], rng: random.Random, *, chunk: int = CHUNK) -> float:
    """Append transactions `first`..`last` (two legs each: hot and one other account), chunk by chunk.

    Returns the seconds spent building the rows and their hashes in Python (the rest is the database).
    """
    from django.db import connection, transaction

    from ledger.chain import journal_numbers, link_hash
    from ledger.services import EntrySpec
    from ledger.services.posting import posting_content_digest

    building = 0.0
    for chunk_first in range(first, last + 1, chunk):
        chunk_last = min(last, chunk_first + chunk - 1)
        with transaction.atomic():
            numbers, chunk_posted_at = journal_numbers(chunk_last - chunk_first + 1)
            began = time.perf_counter()
            if numbers != list(range(chunk_first, chunk_last + 1)):
                raise RuntimeError(f"the journal's next number is {numbers[0]}, the bench expected {chunk_first}")
            prev_hash = ""
            columns: dict[str, list[Any]] = {
                name: []
                for name in ("ids", "sequences", "keys", "occurred", "posted", "heights", "prev_hashes", "hashes")
            }
            legs: dict[str, list[Any]] = {"transactions": [], "accounts": [], "amounts": []}
            for sequence in range(chunk_first, chunk_last + 1):
                occurred_at = START + timedelta(seconds=sequence * STEP_SECONDS)
                if rng.random() < 0.01:
                    occurred_at -= timedelta(days=rng.randint(0, 30))
                height = None if rng.random() < 0.1 else sequence // BLOCK_EVERY
                sats = rng.randint(1, 100_000) * (1 if sequence % 2 == 0 else -1)
                entries = [
                    EntrySpec(account=hot, amount_sats=sats),
                    EntrySpec(account=others[sequence % len(others)], amount_sats=-sats),
                ]
                journal_id, key = uuid.uuid4(), f"bench-{sequence}"
                digest = posting_content_digest(
                    id=journal_id,
                    idempotency_key=key,
                    digest="",
                    legs=entries,
                    kind=KIND,
                    memo="",
                    block_height=height,
                    block_hash=None,
                    txid=None,
                    metadata={},
                    reverses=None,
                    created_by_id=None,
                )
                posted_at = chunk_posted_at + timedelta(microseconds=sequence - chunk_first)
                hash_ = link_hash(
                    prev_hash=prev_hash, sequence=sequence, occurred_at=occurred_at, posted_at=posted_at, digest=digest
                )
                for name, value in zip(
                    columns, (journal_id, sequence, key, occurred_at, posted_at, height, prev_hash, hash_), strict=True
                ):
                    columns[name].append(value)
                for entry in entries:
                    legs["transactions"].append(journal_id)
                    legs["accounts"].append(entry.account.pk)
                    legs["amounts"].append(entry.amount_sats)
            building += time.perf_counter() - began
            with connection.cursor() as cursor:
                cursor.execute(TRANSACTIONS_SQL, {"kind": KIND, **columns})
                cursor.execute(ENTRIES_SQL, legs)
    with connection.cursor() as cursor:
        # Steady state: autovacuum keeps the visibility map current, which index-only scans need.
        cursor.execute("VACUUM ANALYZE ledger_entry")
        cursor.execute("VACUUM ANALYZE ledger_journaltransaction")
    return building


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
    parser.add_argument("--chunk", type=int, default=CHUNK, help="transactions per load transaction")
    smoke_defaults(parser, {"sizes": [2_000, 4_000], "queries": 8, "chunk": 250})
    args = parser.parse_args()

    use_bench_database("bench_ledger_as_of", scratch=args.smoke)
    django_ready(migrate=True)
    info = machine_info()
    print("machine:", ", ".join(f"{key}={value}" for key, value in info.items()))

    from django.db import connection

    from ledger.models import AccountType
    from ledger.selectors import balances_as_of, verify_chain
    from ledger.services import account_create, ledger_checkpoint_refresh
    from ledger.services.checkpoints import CHECKPOINT_EVERY
    from ledger.verification import verify_stored_values

    every = args.every or CHECKPOINT_EVERY

    hot = account_create(code="assets:bench:hot", account_type=AccountType.ASSET)
    others = [account_create(code=f"assets:bench:o{index}", account_type=AccountType.ASSET) for index in range(9)]
    rng = random.Random(7)
    load_rng = random.Random(11)
    rows = []
    loaded = 0
    for size in sorted(args.sizes):
        transactions = size // 2
        began = time.perf_counter()
        build_seconds = load(loaded + 1, transactions, hot, others, load_rng, chunk=args.chunk)
        load_seconds = time.perf_counter() - began
        if not loaded:
            # The guard checked every link; the hashes themselves only a verification can check.
            verification = verify_chain()
            if not verification.ok:
                raise AssertionError(f"the loaded chain does not verify: {verification}")
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
            "load_python_s": round(build_seconds, 1),
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
        # Every stored derived value (running and current balances, checkpoints) against the entries.
        began = time.perf_counter()
        stored = verify_stored_values()
        result["verify_stored_values_s"] = round(time.perf_counter() - began, 2)
        if not stored.ok:
            raise AssertionError(f"the loaded books do not verify: {stored.first_difference}")
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
    if args.smoke:
        return  # smoke figures would overwrite a real run's
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "ledger_as_of.json").write_text(
        json.dumps({"machine": info, "args": vars(args), "rows": rows}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
