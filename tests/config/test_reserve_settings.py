"""RESERVE_CONFIRMATION_DEPTH and RESERVE_REPORTING_CURRENCY come from the environment, with
their only defaults here, and a value the reserve could not use stops the service at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("RESERVE_CONFIRMATION_DEPTH", "RESERVE_REPORTING_CURRENCY")
SHOW = (
    "from django.conf import settings; print(settings.RESERVE_CONFIRMATION_DEPTH, settings.RESERVE_REPORTING_CURRENCY)"
)


def _settings(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in NAMES}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.test", **variables}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unset_they_are_six_blocks_and_usd() -> None:
    result = _settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "USD"]


def test_set_they_are_read_from_the_environment() -> None:
    result = _settings(RESERVE_CONFIRMATION_DEPTH="2", RESERVE_REPORTING_CURRENCY="EUR")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "EUR"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RESERVE_CONFIRMATION_DEPTH", "0", "RESERVE_CONFIRMATION_DEPTH must be at least 1"),
        ("RESERVE_CONFIRMATION_DEPTH", "-3", "RESERVE_CONFIRMATION_DEPTH must be at least 1"),
        ("RESERVE_CONFIRMATION_DEPTH", "six", "invalid literal for int()"),
        ("RESERVE_REPORTING_CURRENCY", "usd", "RESERVE_REPORTING_CURRENCY must be an ISO 4217 code"),
        ("RESERVE_REPORTING_CURRENCY", "US", "RESERVE_REPORTING_CURRENCY must be an ISO 4217 code"),
        ("RESERVE_REPORTING_CURRENCY", "DOLLAR", "RESERVE_REPORTING_CURRENCY must be an ISO 4217 code"),
    ],
)
def test_an_unusable_value_is_refused_at_start(variable: str, value: str, message: str) -> None:
    result = _settings(**{variable: value})
    assert result.returncode != 0
    assert message in result.stderr
