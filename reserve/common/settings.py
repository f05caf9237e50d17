"""The reserve's settings, read here and nowhere else: config/settings/base.py defines and
validates them from the environment, so no consumer can carry a default of its own."""

from __future__ import annotations

from django.conf import settings


def confirmation_depth() -> int:
    """Blocks on top of a transfer's block (its own included) before it is final."""
    return int(settings.RESERVE_CONFIRMATION_DEPTH)


def reporting_currency() -> str:
    """The ISO 4217 code that holdings and transfers are valued in unless a caller asks otherwise."""
    return str(settings.RESERVE_REPORTING_CURRENCY)
