"""`make run` without BITCOIN_RPC_URL: the stack starts a regtest node, seed_demo builds its history
on it, and the stack reconciles it before the services start; the node stops with the stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from config.database_roles import admin_url, env_for
from reserve.management.commands.seed_demo import BTC, FEE_SATS, TIP_HEIGHT

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
# bought 12 BTC, consolidated 10 (and the fee) into the multisig, received the 0.5 BTC donation
TREASURY_SATS = 12 * BTC - 10 * BTC - FEE_SATS + BTC // 2
LATEST_RUN = (
    "SELECT r.status, r.height, r.chain_balance_sats, r.ledger_balance_sats FROM reserve_reconciliationrun r "
    "JOIN reserve_wallet w ON w.id = r.wallet_id WHERE w.name = 'treasury-cold-01' ORDER BY r.id DESC LIMIT 1"
)


@pytest.fixture
def demo_database() -> Iterator[dict[str, str]]:
    # created by the owner; the stack migrates as the owner and serves as the service role
    name = f"demo_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield env_for(name)
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_make_run_reconciles_the_demo_wallet_against_its_own_regtest_node(demo_database, tmp_path):
    # given: no node configured
    env = {
        **os.environ,
        **demo_database,
        "REDIS_URL": os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/14",
        "PORT": str(_free_port()),
        # the node's chain and beat's schedule live here, not in the developer's .data
        "RESERVE_DATA_DIR": str(tmp_path / "data"),
    }
    for name in ("BITCOIN_RPC_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    log_path = tmp_path / "stack.log"

    # when: the stack starts, and is stopped once it serves
    with log_path.open("wb") as log:
        stack = subprocess.Popen(
            [sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 300
        while "press Ctrl-C" not in log_path.read_text(errors="replace"):
            assert stack.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the stack never came up"
            time.sleep(0.5)
        nodes = [child for child in psutil.Process(stack.pid).children(recursive=True) if _runs_node(child)]
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)

    # then: the demo wallet was reconciled at the node's tip, its history booked
    output = log_path.read_text(errors="replace")
    assert f"built the demo chain to height {TIP_HEIGHT}" in output and "blocks/s" in output
    # and it said how to drive the chain: the regtest helper, pointed at this node
    (chain_line,) = [line for line in output.splitlines() if "manage.py regtest" in line]
    assert "BITCOIN_NETWORK=regtest BITCOIN_RPC_URL=http://regtest:" in chain_line and "@127.0.0.1:" in chain_line
    assert chain_line.endswith("manage.py regtest mine <n> | pay <wallet> <btc> | reorg [--depth N]")
    with psycopg.connect(demo_database["DATABASE_URL"]) as database:
        run = database.execute(LATEST_RUN).fetchone()
    assert run == ("succeeded", TIP_HEIGHT, TREASURY_SATS, TREASURY_SATS)
    # and the node stopped with the stack
    assert len(nodes) == 1 and not nodes[0].is_running()

    # when: a second start, on the same database and data directory
    second_log = tmp_path / "second.log"
    with second_log.open("wb") as log:
        again = subprocess.Popen(
            [sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 300
        while "press Ctrl-C" not in second_log.read_text(errors="replace"):
            assert again.poll() is None, second_log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the stack never came up the second time"
            time.sleep(0.5)
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(timeout=60)
    # then: the node continued the chain it kept (no new coinbases, no reorg) and the books still agree
    output = second_log.read_text(errors="replace")
    assert f"continuing the demo chain at height {TIP_HEIGHT}" in output
    assert "built the demo chain" not in output
    # (the line saying how to drive the chain names the `regtest reorg` command; no other line says reorg)
    assert not [line for line in output.splitlines() if "reorg" in line and "manage.py regtest" not in line]
    with psycopg.connect(demo_database["DATABASE_URL"]) as database:
        latest = database.execute(LATEST_RUN).fetchone()
    assert latest == ("succeeded", TIP_HEIGHT, TREASURY_SATS, TREASURY_SATS)


def _runs_node(process: psutil.Process) -> bool:
    """Whether a child of the stack is the regtest node; a short-lived child that has already exited
    (a zombie not yet reaped, or gone) is not."""
    try:
        return "regtest-node.js" in " ".join(process.cmdline())
    except psutil.NoSuchProcess:  # ZombieProcess too
        return False
