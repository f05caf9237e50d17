"""REST: p50/p99 latency of the holdings report under 32 concurrent clients.

    .venv/bin/python bench/api_holdings.py [--wallets 64] [--transactions 50000] [--clients 32] [--seconds 30] [--smoke]

Builds a fresh database (`bench_api_holdings`): one agency, `--wallets` watch-only wallets,
`--transactions` inbound postings spread over them through the ledger's batch import (one
block per 3 transactions, each block also stored as a verified header), checkpoints
refreshed. Serves the app with gunicorn (2 workers x 8 threads, as in production) and runs
`--clients` threads with an auditor's token, each requesting the holdings report in turn
as of a random block height, as of a random time, grouped by agency, and now. Before that,
the same load on /healthz (one `SELECT 1`, no auth) gives the floor of the stack itself.
Every answer must be a 200; the height answers are checked against the ledger's totals.

--smoke: 4 wallets, 300 transactions, 4 clients for 1 s, on a free port, in a scratch
database dropped afterwards (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_common import ROOT, django_ready, machine_info, smoke_defaults, use_bench_database

START = datetime(2024, 1, 1, tzinfo=UTC)
FIRST_HEIGHT = 800_000
PER_BLOCK = 3
CHUNK = 5_000
PORT = 8765


def block_hash(height: int) -> str:
    return hashlib.sha256(f"bench block {height}".encode()).hexdigest()


def seed(*, wallets: int, transactions: int) -> dict[str, Any]:
    from bitcoin import segwit_addr
    from bitcoin.core import Hash160
    from bitcoin.wallet import CKey
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone
    from knox.models import AuthToken

    from ledger.models import AccountType
    from ledger.services import account_create, ledger_checkpoint_refresh, ledger_import_csv
    from reserve.custody.services import agency_create, wallet_register
    from reserve.reconciliation.models import BlockStatus, ChainBlock

    users = get_user_model().objects
    operator = users.create_user(username="bench-operator")
    operator.groups.add(Group.objects.get(name="operator"))
    operator = users.get(pk=operator.pk)
    auditor = users.create_user(username="bench-auditor")
    auditor.groups.add(Group.objects.get(name="auditor"))
    agency = agency_create(name="Bench Treasury", kind="ministry", actor=operator)
    codes = []
    for index in range(wallets):
        key = CKey(hashlib.sha256(f"bench wallet {index}".encode()).digest(), compressed=True)
        address = segwit_addr.encode("bcrt", 0, bytes(Hash160(bytes(key.pub))))
        wallet = wallet_register(
            name=f"bench-{index:03d}",
            agency=agency,
            kind="cold",
            network="regtest",
            addresses=[address],
            actor=operator,
        )
        codes.append(wallet.ledger_account.code)
    account_create(code="equity:acquisitions:bench", name="Bench acquisitions", account_type=AccountType.EQUITY)
    header = "idempotency_key,occurred_at,kind,account,amount_sats,memo,block_height,block_hash,txid"
    rng = random.Random(7)
    for start in range(0, transactions, CHUNK):
        rows = [header]
        for index in range(start, min(start + CHUNK, transactions)):
            height = FIRST_HEIGHT + index // PER_BLOCK
            at = (START + timedelta(minutes=10 * index)).isoformat()
            sats = rng.randint(1_000, 10_000_000)
            common = f"{at},transfer_inbound,{{account}},{{sats}},bench,{height},{block_hash(height)},"
            rows.append(f"bench-{index}," + common.format(account=rng.choice(codes), sats=sats))
            rows.append(f"bench-{index}," + common.format(account="equity:acquisitions:bench", sats=-sats))
        ledger_import_csv(rows=rows)
    ledger_checkpoint_refresh()
    top = FIRST_HEIGHT + (transactions - 1) // PER_BLOCK
    ChainBlock.objects.bulk_create(
        ChainBlock(
            network="regtest",
            height=height,
            hash=block_hash(height),
            prev_hash=block_hash(height - 1),
            merkle_root=block_hash(-height),
            block_time_at=START + timedelta(minutes=10 * PER_BLOCK * (height - FIRST_HEIGHT)),
            bits=0x207FFFFF,
            tx_count=PER_BLOCK,
            size_bytes=1_000,
            status=BlockStatus.ACTIVE,
            verified_at=timezone.now(),
        )
        for height in range(FIRST_HEIGHT, top + 1)
    )
    _, token = AuthToken.objects.create(user=auditor, expiry=timedelta(hours=2))
    return {"token": token, "top": top, "end": START + timedelta(minutes=10 * transactions)}


def serve(port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code < 500:
                return process
        except requests.RequestException:
            time.sleep(0.5)
    process.terminate()
    process.wait(timeout=30)
    raise SystemExit("gunicorn did not answer /healthz within 2 minutes")


def load(
    *, port: int, clients: int, seconds: float, warmup: float, requests_for: Any, headers: dict[str, str]
) -> dict[str, Any]:
    """`clients` threads for `seconds` (after `warmup` seconds); latencies in milliseconds."""
    import requests

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    warm_until = time.monotonic() + warmup
    stop_at = warm_until + seconds

    def client(number: int) -> None:
        session = requests.Session()
        session.headers.update(headers)
        rng = random.Random(number)
        mine: list[float] = []
        while (now := time.monotonic()) < stop_at:
            path, params, check = requests_for(rng)
            began = time.perf_counter()
            response = session.get(f"http://127.0.0.1:{port}{path}", params=params, timeout=60)
            elapsed = (time.perf_counter() - began) * 1000
            problem = check(response)
            if problem:
                with lock:
                    failures.append(problem)
            elif now >= warm_until:
                mine.append(elapsed)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} failed requests, first: {failures[0]}")
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_second": round(len(ordered) / seconds, 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.90 * (len(ordered) - 1))], 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wallets", type=int, default=64)
    parser.add_argument("--transactions", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load before latencies count")
    parser.add_argument("--port", type=int, default=PORT, help="gunicorn's port (0: a free one)")
    parser.add_argument("--json", type=Path)
    smoke_defaults(parser, {"wallets": 4, "transactions": 300, "clients": 4, "seconds": 1.0, "warmup": 0.5, "port": 0})
    args = parser.parse_args()

    use_bench_database("bench_api_holdings", scratch=args.smoke)
    django_ready(migrate=True)
    began = time.perf_counter()
    seeded = seed(wallets=args.wallets, transactions=args.transactions)
    print(f"seeded {args.wallets} wallets, {args.transactions} transactions in {time.perf_counter() - began:.0f} s")
    from ledger.models import Entry

    entries = Entry.objects.count()
    top, end = seeded["top"], seeded["end"]

    def holdings(rng: random.Random) -> tuple[str, dict[str, Any], Any]:
        choice = rng.randrange(4)
        if choice == 0:
            params: dict[str, Any] = {"height": rng.randint(FIRST_HEIGHT, top)}
        elif choice == 1:
            params = {"as_of": (START + (end - START) * rng.random()).isoformat()}
        elif choice == 2:
            params = {"group_by": "agency"}
        else:
            params = {}

        def check(response: Any) -> str:
            if response.status_code != 200:
                return f"{response.status_code} {response.text[:200]}"
            body = response.json()
            if "height" in params and (body["height"], body["block_hash"]) != (
                params["height"],
                block_hash(params["height"]),
            ):
                return f"height {params['height']} answered as {body['height']}"
            if sum(row["balance_sats"] for row in body["rows"]) != body["total_sats"]:
                return "rows do not add up to the total"
            return ""

        return "/api/v1/holdings/", params, check

    def healthz(rng: random.Random) -> tuple[str, dict[str, Any], Any]:
        return "/healthz", {}, lambda response: "" if response.status_code == 200 else str(response.status_code)

    from config.embedded import free_port  # importable once use_bench_database put ROOT on the path

    port = args.port or free_port()
    server = serve(port)
    try:
        floor = load(
            port=port,
            clients=args.clients,
            seconds=min(args.seconds, 10),
            warmup=args.warmup,
            requests_for=healthz,
            headers={},
        )
        report = load(
            port=port,
            clients=args.clients,
            seconds=args.seconds,
            warmup=args.warmup,
            requests_for=holdings,
            headers={"Authorization": f"Token {seeded['token']}"},
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "wallets": args.wallets,
        "transactions": args.transactions,
        "entries": entries,
        "clients": args.clients,
        "server": "gunicorn 2 workers x 8 threads",
        "healthz": floor,
        "holdings": report,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
