"""Every script in bench/ runs at its smoke size (`--smoke`), so a benchmark cannot silently stop working.

Each script runs as a subprocess against the suite's PostgreSQL server (DATABASE_URL, or the
embedded one) and Redis. The module migrates one template database first; the scripts create
their scratch databases from it (BENCH_TEMPLATE_DATABASE, see bench/ledger_common.py), so
`migrate` is not paid once per script, and drop them when they exit. Only the exit status and
the presence of each script's figure lines are asserted, never a figure: the targets are read
from full runs (docs/PERFORMANCE.md), not from a CI machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from config.database_roles import admin_url, env_for
from config.embedded import ensure_service_urls

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
SCRIPT_TIMEOUT = 300
NUMBER = r"\d+(?:\.\d+)?"


@dataclass(frozen=True)
class Smoke:
    figures: tuple[str, ...]  # regular expressions (MULTILINE), each must match the script's stdout
    database: bool = True  # runs on PostgreSQL (from the migrated template)
    services: bool = True  # starts servers of its own (gunicorn, a regtest node, pgbench clients)


SMOKES: dict[str, Smoke] = {
    "scan_blocks.py": Smoke(
        figures=(
            rf"^\s+reserve\.chain scan_block\s+{NUMBER} MB/s$",
            rf"^\s+reserve\.chain scan_block \+ verify_block\s+{NUMBER} MB/s$",
            rf"^\s+python-bitcoinlib CBlock\.deserialize\s+{NUMBER} MB/s$",
            rf"^\s+sha256d \(hashlib\)\s+{NUMBER} MB/s$",
            rf"^\s+scan_block / CBlock\.deserialize\s+{NUMBER}x$",
            rf"block 574200 .*: scan_block {NUMBER} MB/s, CBlock\.deserialize {NUMBER} MB/s$",
        ),
        database=False,
        services=False,
    ),
    "ledger_as_of.py": Smoke(
        figures=tuple(
            rf"^\s+{size}\s+{NUMBER}/{NUMBER}\s+{NUMBER}/{NUMBER}\s+{NUMBER}/{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$"
            for size in (2000, 4000)
        ),
        services=False,
    ),
    "ledger_posting.py": Smoke(
        figures=(
            rf"^\s+2(?:\s+{NUMBER}){{8}}$",
            *(
                rf"^cpu per posting, {mode}, 2 clients: client {NUMBER} ms, server (?:{NUMBER} ms|n/a)$"
                for mode in ("ledger", "gated")
            ),
            r"^batch import \(ledger_import_csv, 200 transactions in one file\): \d+/s$",
            rf"^verify_chain: \d+ transactions in {NUMBER} s$",
            rf"^verify_log: \d+ leaves in {NUMBER} s \({NUMBER}/s\)$",
        ),
    ),
    "log_auditor.py": Smoke(
        figures=(
            rf"^log of 2000 transactions built: load {NUMBER} s, sealing {NUMBER} s$",
            *(
                rf"^auditor incremental check {kept} -> 2000: p50 {NUMBER} ms, max {NUMBER} ms"
                r" \(3 runs, 3 requests each\)$"
                for kept in (1000, 1999)
            ),
            rf"^verify_log: 2000 leaves in {NUMBER} s \({NUMBER}/s\)$",
        ),
        services=False,
    ),
    "api_holdings.py": Smoke(
        figures=tuple(
            rf'"{name}": \{{\s+"requests": \d+,\s+"per_second": {NUMBER},\s+"p50_ms": {NUMBER},'
            rf'\s+"p90_ms": {NUMBER},\s+"p99_ms": {NUMBER},'
            for name in ("healthz", "holdings")
        ),
    ),
    "reorg.py": Smoke(
        figures=(
            *(
                rf"^\s+{utxos}\s+{utxos}\s+{depth}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$"
                for utxos, depth in ((51, 1), (54, 3), (201, 1), (204, 3))
            ),
            r"^approval \(quorum\) alone: p50 \d+ ms, p99 \d+ ms \(6 approvals\)$",
            rf"^approval \(quorum\) while a block of 50 bookings is booked: p50 \d+ ms, p99 \d+ ms, max \d+ ms "
            rf"\(\d+ approvals; the block took {NUMBER} s\)$",
        ),
    ),
    "psbt.py": Smoke(
        figures=tuple(
            rf"^{wallet}\s+{inputs}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x$"
            for wallet in ("wpkh", "wsh 2-of-3", "tr")
            for inputs in (1, 10)
        ),
        database=False,
        services=False,
    ),
    "proofs.py": Smoke(
        figures=(
            rf"^verify_statement: 200 outputs in {NUMBER} s \({NUMBER} outputs/s\)$",
            rf"^python-bitcoinlib deserialize\+txid: 200 transactions in {NUMBER} s$",
            rf"^verify / baseline: {NUMBER}x$",
        ),
        database=False,
        services=False,
    ),
    # issue 12: the fault soak on a stack of its own (its own PostgreSQL cluster, which it restarts)
    "soak.py": Smoke(
        figures=(
            *(
                rf"^{fault}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$"
                for fault in ("stop redis", "restart postgres", "kill worker", "stop node", "reorg chain", "kill web")
            ),
            r"^requests \d+, retries \d+, chain retries \d+, task sends failed \d+, server errors 0$",
            r"^transfers: accepted \d+, approved \d+, paid \d+, confirmed \d+, lost 0, duplicated 0$",
            r"^check: every task has its run row: ok",
        ),
        database=False,
    ),
    "follow_chain.py": Smoke(
        figures=(
            rf"^nothing pays the wallet\s+\d+\s+{NUMBER}\s+{NUMBER}\s+\d+$",
            rf"^every block pays the wallet\s+\d+\s+{NUMBER}\s+{NUMBER}\s+\d+$",
        ),
    ),
}


def bench_scripts(directory: Path) -> set[str]:
    """The runnable scripts of a bench directory: its .py files with a `__main__` guard (not its helpers)."""
    return {
        path.name
        for path in directory.glob("*.py")
        if re.search(r"^if __name__ == [\"']__main__[\"']:", path.read_text(), re.MULTILINE)
    }


def uncovered(directory: Path, covered: set[str]) -> set[str]:
    return bench_scripts(directory) - covered


def test_every_bench_script_has_a_smoke_run() -> None:
    missing = uncovered(BENCH, set(SMOKES))
    assert not missing, f"bench scripts without a smoke run in {Path(__file__).name} (add them to SMOKES): {missing}"
    stale = set(SMOKES) - bench_scripts(BENCH)
    assert not stale, f"SMOKES names scripts that are not in bench/: {stale}"


def test_a_new_bench_script_without_a_smoke_run_is_caught(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text('"""Shared code, no entry point."""\n')
    (tmp_path / "old.py").write_text('def main():\n    pass\n\n\nif __name__ == "__main__":\n    main()\n')
    (tmp_path / "new.py").write_text("import sys\n\nif __name__ == '__main__':\n    sys.exit(0)\n")
    assert uncovered(tmp_path, {"old.py"}) == {"new.py"}
    assert uncovered(tmp_path, {"old.py", "new.py"}) == set()


@pytest.fixture(scope="module")
def template_database() -> Iterator[str]:
    """A database migrated once, for the scripts to copy; dropped afterwards."""
    ensure_service_urls()
    name = f"bench_smoke_template_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=os.environ | env_for(name) | {"DJANGO_SETTINGS_MODULE": "config.settings.local"},
            check=True,
            timeout=SCRIPT_TIMEOUT,
        )
        yield name
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _smoke_params() -> list[object]:
    return [
        pytest.param(script, marks=[pytest.mark.bench, *([pytest.mark.integration] if smoke.services else [])])
        for script, smoke in SMOKES.items()
    ]


@pytest.mark.parametrize("script", _smoke_params())
def test_bench_script_runs_at_smoke_size(script: str, request: pytest.FixtureRequest) -> None:
    smoke = SMOKES[script]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    if smoke.database:
        env["BENCH_TEMPLATE_DATABASE"] = request.getfixturevalue("template_database")
    began = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    elapsed = time.perf_counter() - began
    output = f"--- stdout\n{completed.stdout[-4000:]}\n--- stderr\n{completed.stderr[-4000:]}"
    assert completed.returncode == 0, f"bench/{script} --smoke exited {completed.returncode}\n{output}"
    missing = [pattern for pattern in smoke.figures if not re.search(pattern, completed.stdout, re.MULTILINE)]
    assert not missing, f"bench/{script} --smoke did not print its figures {missing}\n{output}"
    print(f"bench/{script} --smoke: {elapsed:.1f} s")
    # issue 14: a script that names its database made one of its own for the run, and dropped it
    for name in re.findall(r"^database: (\S+)$", completed.stdout, re.MULTILINE):
        assert re.fullmatch(r"[a-z_]+_[0-9a-f]{10}", name), f"bench/{script} used a fixed database name {name}"
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            left = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        assert left is None, f"bench/{script} left its database {name}\n{output}"
