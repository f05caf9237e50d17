"""Production settings refuse unsafe configurations and pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "k3J9-x!Qp7z#T2vL8mW4rB6nY1cF5hD0sG9aE3uI7oP2qR8tU6wZ4yX1vC5bN0mK"


def _run_manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", **env_overrides}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_debug_on():
    # when
    result = _run_manage("check", DEBUG="True", SECRET_KEY=STRONG_SECRET)
    # then
    assert result.returncode != 0
    assert "DEBUG must be off in production" in result.stderr


def test_production_refuses_the_default_secret_key():
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.production", "DEBUG": "False"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_passes_deploy_checks_when_configured():
    result = _run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="reserve.example",
        LEDGER_SIGNING_KEY="11" * 32,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_signing_key_outside_the_database():
    environment = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_SIGNING_KEY")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": STRONG_SECRET},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "LEDGER_SIGNING_KEY" in result.stderr
