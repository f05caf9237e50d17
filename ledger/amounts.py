"""The satoshi bounds: one definition that every app and every CHECK constraint agrees with.

The migrations spell MAX_SATS as the literal 2100000000000000; tests/ledger/test_amounts.py
asserts that the database enforces exactly this value.
"""

from __future__ import annotations

SATS_PER_BTC = 100_000_000
# The 21,000,000 BTC supply: no amount, balance or leg can exceed it.
MAX_SATS = 21_000_000 * SATS_PER_BTC
