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


def _collect_only_run(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """A pytest run of the suite's own conftest with no servers given (as `make test` on a fresh machine)."""
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env["RESERVE_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", "tests/ledger/"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


SERVER_VARIABLES = {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "DATABASE_REPLICA_URL"}


@pytest.mark.integration
def test_a_test_run_stops_the_servers_it_started_and_keeps_those_it_found(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RESERVE_DATA_DIR", str(data_dir))
    from config import embedded

    embedded = importlib.reload(embedded)
    try:
        # given: servers already up in that data directory (a `make run` of the same checkout)
        database_url, _ = embedded.postgres_url()
        redis_url, _ = embedded.redis_url()
        # when: a test run starts with no servers given
        _collect_only_run(data_dir)
        # then: it used them and left them running
        with psycopg.connect(database_url) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        assert redis.Redis.from_url(redis_url).ping()

        # given: nothing running any more
        embedded.postgres_stop()
        embedded.redis_stop()
        _wait_gone(data_dir)
        # when: a test run starts them itself
        _collect_only_run(data_dir)
        # then: it stopped both on its way out
        _wait_gone(data_dir)
        assert (data_dir / "postgres" / "PG_VERSION").exists()  # it did start one
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    finally:
        embedded.postgres_stop()
        embedded.redis_stop()
        monkeypatch.delenv("RESERVE_DATA_DIR")
        importlib.reload(embedded)


def _wait_gone(data_dir: Path) -> None:
    # The postmaster names the data directory; the daemonized Redis renames itself, so it is probed by port.
    for process in _server_processes(data_dir):
        try:
            process.wait(timeout=20)
        except psutil.TimeoutExpired:
            pytest.fail(f"embedded server process {process.pid} ({process.name()}) still running")


def test_type_checking_loads_settings_without_starting_servers(tmp_path):
    # mypy's Django plugin imports the settings named in pyproject.toml; a lint run must start nothing.
    import tomllib

    settings_module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["django-stubs"][
        "django_settings_module"
    ]
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env |= {"RESERVE_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": settings_module}
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.apps import apps; apps.get_models()"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    assert not (tmp_path / "data" / "postgres").exists()
    assert not (tmp_path / "data" / "redis").exists()
