"""The whole stack as `make run` starts it: web, Celery worker and beat, then a clean stop."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from celery import Celery

from config.database_roles import admin_url, env_for
from config.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack_database():
    """A database of its own for the stack, dropped afterwards."""
    # created by the owner; the stack migrates as the owner and serves as the service role
    name = f"stack_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield env_for(name)
    with psycopg.connect(admin_url(), autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _wait_for_health(port: int, process: subprocess.Popen, deadline: float) -> dict:
    while time.monotonic() < deadline:
        assert process.poll() is None, f"stack exited early with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    pytest.fail("the web server never answered /healthz")


@pytest.mark.integration
def test_stack_runs_a_task_on_a_real_worker_and_stops_cleanly(stack_database, tmp_path):
    # given: the stack on its own database and Redis database, as `make run` starts it
    port = free_port()
    redis_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/9"
    env = {
        **os.environ,
        **stack_database,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        # the regtest chain and beat's schedule live here, not in the developer's .data
        "RESERVE_DATA_DIR": str(tmp_path / "data"),
        # the operator publishes the log, so the printed key's URL answers anyone
        "LEDGER_LOG_PUBLIC": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log_path = tmp_path / "stack.log"
    with log_path.open("wb") as log:
        stack = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "stack.py"), "run"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        # when: the web server is up
        health = _wait_for_health(port, stack, time.monotonic() + 300)
        # then: it reports its services
        assert health["checks"]["database"]["ok"] and health["checks"]["redis"]["ok"], health

        # when: a task goes through Redis to the stack's worker
        client = Celery(broker=redis_url, backend=redis_url)
        result = client.send_task("config.ping_task", args=["hello"])
        # then: the worker (a process of the stack, not this one) answers
        answer = result.get(timeout=60)
        assert answer["pong"] == "hello"
        descendants = psutil.Process(stack.pid).children(recursive=True)
        assert len(descendants) >= 4  # web, worker (+ its pool), beat
        assert int(answer["worker_pid"]) in {process.pid for process in descendants}
        assert "demo superuser: username=" in log_path.read_text()
        # the log's public key, made under the data directory on this first start, and the URL serving it
        (key_line,) = [line for line in log_path.read_text().splitlines() if "stack | log key" in line]
        printed_key, served_at = key_line.split()[4], key_line.split()[-1]
        assert served_at == f"http://127.0.0.1:{port}/api/v1/log/public-key/"
        with urllib.request.urlopen(served_at, timeout=10) as response:  # noqa: S310 - the URL just asserted
            assert json.loads(response.read())["public_key"] == printed_key
        assert str(tmp_path / "data" / "ledger-signing.key") in key_line
        # one line in the worker's log for the task run, not a "received" line as well
        (task_line,) = [line for line in log_path.read_text().splitlines() if result.id in line]
        assert "succeeded" in task_line

        # when: the web process crashes
        (web,) = [child for child in descendants if "runserver" in child.cmdline()]
        web.kill()
        web.wait(timeout=10)
        # then: the supervisor restarts it, and the worker and the servers were never stopped
        health = _wait_for_health(port, stack, time.monotonic() + 60)
        assert health["checks"]["database"]["ok"], health
        assert "web exited with code -9; restarting it in 1 s" in log_path.read_text()
        assert psutil.pid_exists(int(answer["worker_pid"]))
        assert client.send_task("config.ping_task", args=["again"]).get(timeout=60)["pong"] == "again"
        descendants = psutil.Process(stack.pid).children(recursive=True)
    finally:
        # when: Ctrl-C
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)

    # then: nothing it started is left
    for process in descendants:
        try:
            process.wait(timeout=5)
        except psutil.TimeoutExpired:
            pytest.fail(f"process {process.pid} {process.cmdline()} outlived the stack")
    assert "stack | stopped" in log_path.read_text()
