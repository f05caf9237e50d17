"""The embedded PostgreSQL and Redis that a machine without DATABASE_URL/REDIS_URL gets."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]


def _server_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command_line = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in command_line:
            found.append(process)
    return found


@pytest.mark.integration
def test_embedded_servers_start_reuse_and_stop(tmp_path, monkeypatch):
    # given: a data directory of its own, so nothing of the developer's .data is touched
    monkeypatch.setenv("RESERVE_DATA_DIR", str(tmp_path / "data"))
    from config import embedded

    embedded = importlib.reload(embedded)
    try:
        # when: started twice
        database_url, started_first = embedded.postgres_url()
        # a cluster made before the role split: its tables belong to the superuser
        superuser_url = database_url.replace("reserve_app@", "postgres@")
        with psycopg.connect(superuser_url, autocommit=True) as connection:
            connection.execute("CREATE TABLE made_before_the_split (id int)")
        database_url_again, started_second = embedded.postgres_url()
        redis_url, redis_started = embedded.redis_url()
        _, redis_started_again = embedded.redis_url()

        # then: the second call reuses the running servers, and both answer
        assert (started_first, started_second) == (True, False)
        assert (redis_started, redis_started_again) == (True, False)
        assert database_url == database_url_again
        # the service connects as the role that owns nothing; the owner got the old table
        assert database_url.startswith("postgres://reserve_app@")
        with psycopg.connect(superuser_url) as connection:
            owner = connection.execute(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'made_before_the_split'"
            ).fetchone()
        assert owner == ("reserve_owner",)
        with psycopg.connect(database_url) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        assert row is not None
        version = row[0]
        assert version.startswith("18.")
        client = redis.Redis.from_url(redis_url)
        client.set("reserve-ledger-embedded", "yes")
        assert client.get("reserve-ledger-embedded") == b"yes"
        assert _server_processes(tmp_path / "data")
    finally:
        embedded.postgres_stop()
        embedded.redis_stop()
        monkeypatch.delenv("RESERVE_DATA_DIR")
        importlib.reload(embedded)

    # then: stopping leaves no server process behind
    for process in _server_processes(tmp_path / "data"):
        try:
            process.wait(timeout=10)
        except psutil.TimeoutExpired:
            pytest.fail(f"embedded server process {process.pid} still running")


@pytest.mark.integration
def test_settings_use_given_urls_without_starting_servers(tmp_path):
    # given: URLs in the environment and an empty data directory
    env = {
        **os.environ,
        "RESERVE_DATA_DIR": str(tmp_path / "never-used"),
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    # when
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['PORT'], settings.REDIS_URL)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # then
    assert os.environ["REDIS_URL"] in result.stdout
    assert not (tmp_path / "never-used").exists()
