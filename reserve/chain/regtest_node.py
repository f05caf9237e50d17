"""A regtest bcoin node (scripts/regtest-node.js) run as a subprocess: a dev tool for `make run`
(scripts/stack.py) and bench/; the tests extend it in tests/regtest/node.py."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Self

from reserve.chain.errors import NodeUnavailable
from reserve.chain.rpc import RpcChainSource

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_SCRIPT = REPO_ROOT / "scripts" / "regtest-node.js"


def ensure_node_modules(repo_root: Path = REPO_ROOT) -> None:
    """Install the pinned npm packages once (npm ci, else npm install); concurrent callers wait for the first."""
    marker = repo_root / "node_modules" / "bcoin" / "package.json"
    if marker.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the regtest node needs Node.js 20+ and npm")
    # The lock lives outside node_modules, which `npm ci` deletes and recreates.
    lock_name = f"reserve-ledger-npm-{hashlib.sha256(str(repo_root).encode()).hexdigest()[:12]}.lock"
    with open(Path(tempfile.gettempdir()) / lock_name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        for command in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "install", "--no-audit", "--no-fund"]):
            result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=600, check=False)
            if result.returncode == 0 and marker.exists():
                return
        raise RuntimeError(f"npm could not install bcoin:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


# Where a node kept in a data_dir remembers its RPC port.
PORT_FILE = "rpc.port"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RegtestNode:
    """One bcoin regtest node: an in-memory chain, or one kept in `data_dir` across runs.

    `start()`, `rpc_url`, `source()`, `stop()`; also a context manager.

    The node reads its stdin from a pipe held by this process and exits when the pipe
    closes, so it cannot outlive the test run even when pytest is killed.
    """

    def __init__(
        self,
        *,
        api_key: str = "regtest-api-key",
        startup_timeout_seconds: float = 60.0,
        data_dir: Path | None = None,
    ) -> None:
        self.api_key = api_key
        self.data_dir = data_dir
        self.startup_timeout_seconds = startup_timeout_seconds
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the regtest node is not running")
        return f"http://regtest:{self.api_key}@127.0.0.1:{self.port}/"

    def source(self, **options: Any) -> RpcChainSource:
        """A chain source on this node (network regtest unless given)."""
        options.setdefault("network", "regtest")
        return RpcChainSource(self.rpc_url, **options)

    def log_text(self) -> str:
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(errors="replace")

    def start(self) -> Self:
        if self.process is not None:
            raise RuntimeError("the regtest node is already running")
        ensure_node_modules()
        for attempt in range(3):
            # A node kept in data_dir takes the port it had last time, so its URL survives restarts.
            remembered = self._remembered_port() if attempt == 0 else None
            self._spawn(remembered or _free_port())
            if self._wait_until_answering():
                if self.data_dir is not None:
                    (self.data_dir / PORT_FILE).write_text(f"{self.port}\n")
                atexit.register(self.stop)
                return self
            log = self.log_text()
            self.stop()
            if "EADDRINUSE" not in log:  # another process took the port between probe and bind: try again
                raise RuntimeError(f"regtest node did not start:\n{log[-3000:]}")
        raise RuntimeError("regtest node did not find a free port")

    def _remembered_port(self) -> int | None:
        """The port this data_dir's node answered on last time, if it is free now."""
        if self.data_dir is None:
            return None
        try:
            port = int((self.data_dir / PORT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return None
        return port

    def _spawn(self, port: int) -> None:
        self.port = port
        self._log = tempfile.NamedTemporaryFile(prefix="regtest-node-", suffix=".log", delete=False)  # noqa: SIM115
        command = ["node", str(NODE_SCRIPT), "--port", str(port), "--api-key", self.api_key, "--exit-with-stdin"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            command += ["--data-dir", str(self.data_dir)]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "REGTEST_LOG_LEVEL": os.environ.get("REGTEST_LOG_LEVEL", "warning")},
        )

    def _wait_until_answering(self) -> bool:
        assert self.process is not None
        source = self.source(retries=0, timeout_seconds=2)
        deadline = time.monotonic() + self.startup_timeout_seconds
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    source.call("getblockcount")
                    return True
                except NodeUnavailable:
                    time.sleep(0.1)
            return False
        finally:
            source.close()

    def stop(self) -> None:
        """Stop the node and wait for it; idempotent."""
        process, self.process = self.process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # the node closes itself when its stdin ends
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None
        self.port = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
