"""Reads scale out on PostgreSQL itself: a real hot standby, made by pg_basebackup from the
embedded PostgreSQL's own binaries, serves the auditors' reports and lists; writes and gates
read the primary; a report from a lagging standby says how far behind it is.

The test starts its own primary and standby (a private pair: the suite's database server may
not accept replication connections) and runs `tests/config/replica_driver.py` against them in
a subprocess, with the service's role split in force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import embedded
from config.database_roles import provision, role_url

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "reserve_replica"


@pytest.fixture(scope="module")
def observed() -> Iterator[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="reserve-replica-"))
    primary, standby = base / "primary", base / "standby"
    primary_port, standby_port = embedded.free_port(), embedded.free_port()
    try:
        embedded.postgres_init(primary)
        embedded.postgres_start(primary, primary_port)
        admin = f"postgres://postgres@127.0.0.1:{primary_port}/postgres"
        service_url, owner_url = provision(admin, DATABASE)
        embedded.postgres_standby(primary_port, standby)
        embedded.postgres_start(standby, standby_port)
        replica_admin = f"postgres://postgres@127.0.0.1:{standby_port}/postgres"
        environment = {
            **os.environ,
            "DATABASE_URL": service_url,
            "DATABASE_OWNER_URL": owner_url,
            "DATABASE_REPLICA_URL": role_url(replica_admin, "reserve_app", DATABASE),
            "REPLICA_SUPERUSER_URL": replica_admin,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "ALLOWED_HOSTS": "testserver",
        }
        run = subprocess.run(
            [sys.executable, "-m", "tests.config.replica_driver"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr[-4000:]
        yield json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        embedded.postgres_stop_at(standby)
        embedded.postgres_stop_at(primary)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_every_report_and_list_is_served_by_the_standby(observed: dict[str, Any]) -> None:
    assert observed["first_write"] == 201
    for path, reading in observed["endpoints"].items():
        assert reading["status"] == 200, (path, reading["body"])
        assert reading["read_from"] == "replica", path
        assert reading["body"]["read_from"]["database"] == "replica", path
        assert reading["body"]["read_from"]["replay_lsn"], path
    assert observed["csv"]["X-Read-From"] == "replica"
    assert "X-Replica-Replay-LSN" in observed["csv"]


def test_a_caught_up_standby_shows_what_was_written(observed: dict[str, Any]) -> None:
    assert observed["agency_names"]["caught_up"] == ["Treasury"]
    assert observed["caught_up"]["lag_bytes"] == "0"


def test_a_lagging_standby_serves_its_past_and_says_how_far_behind(observed: dict[str, Any]) -> None:
    lagging = observed["lagging"]
    assert observed["agency_names"]["lagging"] == ["Treasury"]  # the standby stands still
    assert observed["primary_has"] == ["Central Bank", "Treasury"]
    assert int(lagging["lag_bytes"]) > 0
    assert lagging["body"]["read_from"]["lag_bytes"] == int(lagging["lag_bytes"])
    assert observed["agency_names"]["resumed"] == ["Central Bank", "Treasury"]
    assert observed["resumed"]["lag_bytes"] == "0"


def test_writes_and_their_checks_read_the_primary_while_the_standby_lags(observed: dict[str, Any]) -> None:
    assert observed["write_while_lagging"] == 201
    # The duplicate check saw the agency the standby had not replayed yet.
    duplicate = observed["duplicate_while_lagging"]
    assert duplicate["error"]["fields"]["name"] == ["an agency named 'Central Bank' already exists"]


def test_nothing_that_writes_or_decides_runs_inside_replica_reads(observed: dict[str, Any]) -> None:
    assert observed["position_database"] == "replica"
    refused = observed["refused_inside_replica_reads"]
    assert len(refused) == 2
    assert "a write of reserve.Agency" in refused[0]
    assert "a policy scope lock" in refused[1]
