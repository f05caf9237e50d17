"""The auditor's incremental check of the transparency log, and its full verification, at N transactions.

    .venv/bin/python bench/log_auditor.py [--transactions 1000000] [--runs 20] [--chunk 2000] [--smoke]

Builds a log of N journal transactions quickly: set-based inserts through the ledger's
triggers (bench/ledger_as_of.py's `load`, rows hashed by the ledger's own recipe), then the
sealer (`seal_log`, SEAL_BATCH leaves per round, a signed head at the end of each), in three
steps so that signed heads of sizes N/2, N-1 and N exist. Then it times
`scripts/verify_log.py`'s own `verify()` (signature, kept heads, the consistency proof from
the newest kept head) with a state file that kept the head of N/2, and one that kept N-1,
answered by the service's REST views in this process (Django's test client on
/api/v1/log/..., the log published: no HTTP socket, no token), and the full verification
`verify_log()` (every leaf recomputed from its transaction's hash, every signed head's root
and signature). Each check must say ok.

--smoke: a 2,000-transaction log in a scratch database dropped afterwards (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger_as_of import load
from ledger_common import ROOT, django_ready, machine_info, smoke_defaults, use_bench_database

sys.path.insert(0, str(ROOT / "scripts"))

import verify_log  # the auditor's script, as the auditor runs it (stdlib + cryptography)


def seal_all() -> int:
    """Seal until nothing is queued; the number of rounds (each signs a head)."""
    from ledger.log.sealer import seal_log
    from ledger.models import LogPending

    rounds = 0
    while LogPending.objects.exists():
        seal_log()
        rounds += 1
    return rounds


class InProcessService(verify_log.Service):
    """The auditor's view of the service, answered by the REST views through Django's test client."""

    def __init__(self, client: Any) -> None:
        super().__init__("http://testserver", "")
        self.client = client
        self.requests = 0

    def get(self, path: str) -> Any:
        self.requests += 1
        response = self.client.get(path, HTTP_ACCEPT="application/json")
        if response.status_code != 200:
            raise verify_log.Failure(f"GET {path}: HTTP {response.status_code} {response.content[:300]!r}")
        return response.json()


def incremental_check(service: InProcessService, kept: dict[str, Any], public_key: str, runs: int) -> dict[str, Any]:
    """verify_log.verify() from a state file that kept `kept`, `runs` times; p50/max ms."""
    latencies = []
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory) / "heads.json"
        args = argparse.Namespace(
            url=service.url, token="", key=public_key, include=[], journal="", fetch_journal=False, state=str(state)
        )
        for _ in range(runs):
            state.write_text(json.dumps({"public_key": public_key, "heads": [kept]}))
            service.requests = 0
            began = time.perf_counter()
            outcome = verify_log.verify_with(service, args)
            latencies.append((time.perf_counter() - began) * 1000)
            if not outcome.startswith("ok: "):
                raise AssertionError(f"the auditor's check from {kept['tree_size']} failed: {outcome}")
    return {"from": kept["tree_size"], "p50_ms": statistics.median(latencies), "max_ms": max(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000, help="N, the log's size")
    parser.add_argument("--runs", type=int, default=20, help="incremental checks timed per kept head")
    parser.add_argument("--chunk", type=int, default=2000, help="transactions per load transaction")
    smoke_defaults(parser, {"transactions": 2000, "runs": 3, "chunk": 250})
    args = parser.parse_args()
    total = args.transactions

    print("database:", use_bench_database("bench_log_auditor", scratch=True).rsplit("/", 1)[-1])
    django_ready(migrate=True)
    info = machine_info()
    print("machine:", ", ".join(f"{key}={value}" for key, value in info.items()))

    from django.test import Client
    from django.test.utils import override_settings

    from ledger.log.selectors import head_at, log_public_key
    from ledger.log.selectors import verify_log as verify_whole_log
    from ledger.models import AccountType
    from ledger.services import account_create

    hot = account_create(code="assets:bench:hot", account_type=AccountType.ASSET)
    others = [account_create(code=f"assets:bench:o{index}", account_type=AccountType.ASSET) for index in range(9)]
    rng = random.Random(11)
    load_seconds = seal_seconds = 0.0
    first = 1
    for last in (total // 2, total - 1, total):
        began = time.perf_counter()
        load(first, last, hot, others, rng, chunk=args.chunk)
        load_seconds += time.perf_counter() - began
        began = time.perf_counter()
        seal_all()
        seal_seconds += time.perf_counter() - began
        first = last + 1
    print(f"log of {total} transactions built: load {load_seconds:.1f} s, sealing {seal_seconds:.1f} s")

    public_key, _ = log_public_key()
    with override_settings(LEDGER_LOG_PUBLIC=True, ALLOWED_HOSTS=["testserver"]):
        service = InProcessService(Client())
        for kept_size in (total // 2, total - 1):
            kept = head_at(kept_size)
            head = {name: getattr(kept, name) for name in ("tree_size", "root_hash", "timestamp_ms", "signature")}
            result = incremental_check(service, head | {"key_id": kept.key_id}, public_key, args.runs)
            print(
                f"auditor incremental check {result['from']} -> {total}: p50 {result['p50_ms']:.1f} ms, "
                f"max {result['max_ms']:.1f} ms ({args.runs} runs, {service.requests} requests each)"
            )
    began = time.perf_counter()
    whole = verify_whole_log()
    seconds = time.perf_counter() - began
    if not whole.ok or whole.tree_size != total:
        raise AssertionError(f"verify_log: {whole}")
    print(f"verify_log: {whole.tree_size} leaves in {seconds:.2f} s ({whole.tree_size / seconds:.0f}/s)")


if __name__ == "__main__":
    main()
