#!/usr/bin/env python
"""Run the whole service in the foreground: web, Celery worker and Celery beat.

Starts private PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset, and a regtest bcoin
node when BITCOIN_RPC_URL is unset; migrates, seeds demo data (its history built on the regtest
chain by seed_demo, reconciled at once), then supervises the three processes with prefixed logs: a
child that exits is restarted with backoff (said in the log) while the rest stays up.
Ctrl-C (or SIGTERM) stops every process it started, and the servers it started itself.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import embedded  # noqa: E402
from config.database_roles import OWNER_URL_VARIABLE  # noqa: E402
from reserve.chain.regtest_node import RegtestNode  # noqa: E402

COLOURS = {"web": "36", "worker": "33", "beat": "35", "node": "32", "stack": "1"}
PR_SET_PDEATHSIG = 1
# A crashed child is restarted after 1, 2, 4 ... at most this many seconds, the delay starting
# afresh once it had run this long.
RESTART_MAX_SECONDS = 30.0
RESTART_STABLE_SECONDS = 60.0


def _die_with_parent() -> None:
    # A child of a supervisor that is SIGKILLed must not live on as an orphan.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgid(0, 0)


def say(name: str, line: str) -> None:
    prefix = f"{name:<6}|"
    if sys.stdout.isatty():
        prefix = f"\033[{COLOURS.get(name, '0')}m{prefix}\033[0m"
    sys.stdout.write(f"{prefix} {line}\n")
    sys.stdout.flush()


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, check=True)


def log_key_line(port: int) -> str:
    """The public key that signs the log's heads (created under .data/ on first start when none is
    configured, ledger/signing.py), where it came from, and the URL that serves it: an auditor pins it."""
    import django

    django.setup()
    from ledger.signing import signing_key

    key = signing_key()
    return f"log key  {key.public_hex} (Ed25519, {key.origin}) at http://127.0.0.1:{port}/api/v1/log/public-key/"


def start_regtest_node() -> RegtestNode | None:
    """A regtest bcoin node for the demo, exported to every child process. Its chain is kept in
    .data/regtest beside the database, so a second run continues the chain already scanned."""
    try:
        node = RegtestNode(data_dir=embedded.DATA_DIR / "regtest").start()
    except RuntimeError as error:
        say("stack", f"no regtest node ({error}); the service runs without a chain")
        return None
    os.environ["BITCOIN_RPC_URL"] = node.rpc_url
    os.environ["BITCOIN_NETWORK"] = "regtest"
    say("node", f"regtest bcoin node at http://127.0.0.1:{node.port}/")
    return node


def reconcile_demo(node: RegtestNode) -> None:
    """seed_demo builds its history on the node's chain (or finds it there); reconcile it once, so
    the first login shows the books agreeing with the chain but for the donation it stages."""
    with node.source() as source:
        say("node", f"demo chain at height {source.block_count()}")
    manage("reconcile")


def spawn(name: str, command: list[str]) -> subprocess.Popen[bytes]:
    say("stack", f"starting {name}: {' '.join(command)}")
    # web, worker and beat get only the service role's DATABASE_URL, never the owner's credential.
    service_env = {key: value for key, value in os.environ.items() if key != OWNER_URL_VARIABLE}
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=service_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )


def stop_all(processes: dict[str, subprocess.Popen[bytes]], grace_seconds: float = 15.0) -> None:
    for name, process in processes.items():
        if process.poll() is None:
            say("stack", f"stopping {name} (pid {process.pid})")
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes.values():
        # Whatever is left in the group (Celery pool children included) is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run(port: int, seed: bool) -> int:
    embedded.ensure_service_urls()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    say(
        "stack",
        f"database {os.environ['DATABASE_URL']} (migrations as {os.environ.get(OWNER_URL_VARIABLE, 'the same')})",
    )
    say("stack", f"redis    {os.environ['REDIS_URL']}")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    node = None if os.environ.get("BITCOIN_RPC_URL") else start_regtest_node()
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        manage("migrate", "--no-input", "-v", "0")
        if seed:
            manage("demo_superuser")
            manage("seed_demo")
            if node is not None:
                reconcile_demo(node)
        python = sys.executable
        schedule = embedded.DATA_DIR / "celerybeat-schedule"
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "-l", "info", "--concurrency", "2"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "-l", "info", "-s", str(schedule)],
        }
        for name, command in commands.items():
            processes[name] = spawn(name, command)
        say("stack", f"admin    http://127.0.0.1:{port}/admin/")
        say("stack", f"API docs http://127.0.0.1:{port}/api/docs/")
        say("stack", f"health   http://127.0.0.1:{port}/healthz")
        say("stack", log_key_line(port))
        if node is not None:
            # issue 17: how a newcomer drives the chain and watches the books follow it
            # the node's URL holds its local, per-run regtest API key: the dev's own terminal only
            say(
                "stack",
                "chain    in another terminal: BITCOIN_NETWORK=regtest "
                f"BITCOIN_RPC_URL={node.rpc_url} .venv/bin/python manage.py regtest "
                "mine <n> | pay <wallet> <btc> | reorg [--depth N]",
            )
        say("stack", "press Ctrl-C to stop everything")
        exit_code = _supervise(processes, commands, lambda: stopping)
    finally:
        stop_all(processes)
        if node is not None:
            say("stack", "stopping the regtest node")
            node.stop()
        for kind in embedded.stop_started_here():
            say("stack", f"stopped embedded {kind}")
        say("stack", "stopped")
    return exit_code


def _restart_delay(failures: int) -> float:
    """Backoff before restarting a child that crashed `failures` times in a row: 1, 2, 4 ... 30 s."""
    return min(RESTART_MAX_SECONDS, 2.0 ** max(0, failures - 1))


def _supervise(processes: dict[str, subprocess.Popen[bytes]], commands: dict[str, list[str]], stopping: object) -> int:
    """Relay the children's output; restart a child that exits (with backoff, said in the log)
    while the others, the database, Redis and the node stay up. Returns on Ctrl-C."""
    selector = selectors.DefaultSelector()
    buffers: dict[str, bytes] = {}
    started_at: dict[str, float] = {}
    failures = dict.fromkeys(processes, 0)
    restart_at: dict[str, float] = {}

    def watch(name: str) -> None:
        process = processes[name]
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        selector.register(process.stdout, selectors.EVENT_READ, name)
        buffers[name] = b""
        started_at[name] = time.monotonic()

    for name in processes:
        watch(name)
    while not stopping():  # type: ignore[operator]
        for key, _ in selector.select(timeout=0.5):
            name = key.data
            chunk = key.fileobj.read()  # type: ignore[union-attr]
            if chunk:
                buffers[name] += chunk
                *lines, buffers[name] = buffers[name].split(b"\n")
                for line in lines:
                    say(name, line.decode(errors="replace"))
        now = time.monotonic()
        for name, process in processes.items():
            if name in restart_at or process.poll() is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(process.stdout)  # type: ignore[arg-type]
            # A child that ran for a while before dying starts its backoff afresh.
            failures[name] = 1 if now - started_at[name] > RESTART_STABLE_SECONDS else failures[name] + 1
            delay = _restart_delay(failures[name])
            restart_at[name] = now + delay
            say(
                "stack",
                f"{name} exited with code {process.returncode}; restarting it in {delay:.0f} s "
                f"(crash {failures[name]} in a row); the other processes keep running",
            )
        for name, when in list(restart_at.items()):
            if now >= when and not stopping():  # type: ignore[operator]
                del restart_at[name]
                processes[name] = spawn(name, commands[name])
                watch(name)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-seed", action="store_true", help="skip the demo data")
    options = parser.parse_args()
    return run(options.port, seed=not options.no_seed)


if __name__ == "__main__":
    sys.exit(main())
