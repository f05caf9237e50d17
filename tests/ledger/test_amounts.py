"""The satoshi bounds exist once (ledger.amounts) and equal what PostgreSQL enforces. Raw inserts
at and past the bound: test_db_invariants.py; the parsers' bound: tests/reserve/common and
tests/policy/test_rule_params.py."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from ledger.amounts import MAX_SATS, SATS_PER_BTC
from tests.source_tree import occurrences

# Every CHECK constraint that bounds an amount, in any app; the migrations spell the bound as a literal.
BOUNDED = {
    "ledger_entry_amount_bounds": (-MAX_SATS, MAX_SATS),
    "ledger_pending_entry_amount_bounds": (-MAX_SATS, MAX_SATS),
    "reserve_transfer_amount_range": (None, MAX_SATS),
    "reserve_transfer_fee_range": (None, MAX_SATS),
    "reserve_transfer_total_range": (None, MAX_SATS),  # amount <= MAX_SATS - fee
    "reserve_utxo_value_range": (None, MAX_SATS),
    "reserve_psbt_fee_range": (None, MAX_SATS),
    "reserve_pledge_amount_bounds": (None, MAX_SATS),
    "reserve_lot_amount_range": (None, MAX_SATS),
    "reserve_lotconsumption_amount_range": (-MAX_SATS, MAX_SATS),  # a consumption, or its restoration
}


def test_the_constant_is_the_bitcoin_supply() -> None:
    assert SATS_PER_BTC == 100_000_000
    assert MAX_SATS == 21_000_000 * SATS_PER_BTC == 2_100_000_000_000_000


@pytest.mark.django_db
def test_every_large_literal_in_a_check_constraint_is_the_constant() -> None:
    # given every CHECK constraint of the database that holds a number of ten digits or more
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            r" WHERE contype = 'c' AND pg_get_constraintdef(oid) ~ '\d{10,}'"
        )
        definitions = dict(cursor.fetchall())
    # then those are exactly the amount bounds, and each bound is the constant
    assert set(definitions) == set(BOUNDED)
    for name, definition in definitions.items():
        literals = {int(number) for number in re.findall(r"'?(-?\d{10,})'?", definition)}
        assert literals == {bound for bound in BOUNDED[name] if bound is not None}, (name, definition)


def test_no_other_module_spells_the_bounds() -> None:
    # A second copy of the supply, or of either name, would drift from this one.
    spelled = occurrences(
        r"\b21_?000_?000\b|\b2_?100_?000_?000_?000_?000\b|MAX_SUPPLY_SATS|^\s*(MAX_SATS|SATS_PER_BTC)\s*=",
        allowed=("ledger/amounts.py",),
    )
    assert spelled == []
