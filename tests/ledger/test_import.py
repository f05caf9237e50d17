"""Historical CSV import: all or nothing, original times, the first bad row named by line and field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.errors import ImportRowError
from ledger.models import JournalTransaction
from ledger.selectors import account_balance, account_balance_as_of, verify_balances, verify_chain
from ledger.services import ledger_import_csv

pytestmark = pytest.mark.django_db

HEADER = "idempotency_key,occurred_at,kind,account,amount_sats,memo,block_height,block_hash,txid\n"


def _csv(*rows: str) -> list[str]:
    return (HEADER + "".join(row + "\n" for row in rows)).splitlines(keepends=True)


GOOD = [
    "imp-1,2021-09-07T00:00:00Z,purchase,assets:custody:cold-01,40000000,first buy,700000,,",
    "imp-1,2021-09-07T00:00:00Z,purchase,equity:acquisitions:forfeiture,-40000000,first buy,700000,,",
    "imp-2,2021-09-20T12:30:00+00:00,transfer,assets:custody:hot-01,15000000,,,,",
    "imp-2,2021-09-20T12:30:00+00:00,transfer,assets:custody:cold-01,-15000000,,,,",
]


def test_import_posts_with_original_times_and_chains(cold, hot, equity):
    # when a two-transaction file is imported
    result = ledger_import_csv(rows=_csv(*GOOD))
    # then both are posted in order, back-dated, chained and balanced
    assert (result.transactions_posted, result.entries_posted, result.transactions_skipped) == (2, 4, 0)
    assert result.first_sequence is not None
    assert result.last_sequence == result.first_sequence + 1
    assert account_balance(account=cold) == 25_000_000
    assert account_balance_as_of(account=cold, occurred_at=datetime(2021, 9, 10, tzinfo=UTC)) == 40_000_000
    assert account_balance_as_of(account=cold, block_height=700_000) == 40_000_000
    first = JournalTransaction.objects.get(idempotency_key="imp-1")
    assert first.memo == "first buy"
    assert first.occurred_at == datetime(2021, 9, 7, tzinfo=UTC)
    assert verify_chain().ok
    assert verify_balances() == []
    # a re-run is a no-op
    again = ledger_import_csv(rows=_csv(*GOOD))
    assert (again.transactions_posted, again.transactions_skipped) == (0, 2)


@pytest.mark.parametrize(
    ("bad_row", "line", "field"),
    [
        ("imp-3,2021-09-21,transfer,assets:custody:hot-01,5,,,,", 6, "occurred_at"),  # no offset
        ("imp-3,2021-09-21T00:00:00Z,transfer,assets:nowhere,5,,,,", 6, "account"),
        ("imp-3,2021-09-21T00:00:00Z,transfer,assets:custody:hot-01,0.5,,,,", 6, "amount_sats"),
        ("imp-3,2021-09-01T00:00:00Z,transfer,assets:custody:hot-01,5,,,,", 6, "occurred_at"),  # goes back
        ("imp-3,2021-09-21T00:00:00Z,,assets:custody:hot-01,5,,,,", 6, "kind"),
        ("imp-3,2021-09-21T00:00:00Z,transfer,assets:custody:hot-01,5,,,xyz,", 6, "block_hash"),
        ("imp-3,2021-09-21T00:00:00Z,transfer,assets:custody:hot-01,5,,,,", 6, "amount_sats"),  # unbalanced
    ],
)
def test_bad_row_names_line_and_field_and_imports_nothing(cold, hot, equity, bad_row, line, field):
    # when the third transaction of a file is bad
    with pytest.raises(ImportRowError) as caught:
        ledger_import_csv(rows=_csv(*GOOD, bad_row))
    # then the error names its line and field, and nothing of the file was posted
    assert (caught.value.line, caught.value.field) == (line, field)
    assert field in caught.value.fields
    assert f"line {line}" in caught.value.message
    assert not JournalTransaction.objects.exists()


def test_overdraft_in_history_names_the_row(cold, hot, equity):
    rows = [
        *GOOD,
        "imp-3,2021-10-01T00:00:00Z,transfer,assets:custody:hot-01,30000000,,,,",
        "imp-3,2021-10-01T00:00:00Z,transfer,assets:custody:cold-01,-30000000,,,,",
    ]
    with pytest.raises(ImportRowError) as caught:
        ledger_import_csv(rows=_csv(*rows))
    assert (caught.value.line, caught.value.field) == (7, "amount_sats")
    assert not JournalTransaction.objects.exists()


def test_rows_of_a_transaction_must_agree(cold, equity):
    rows = [
        "imp-1,2021-09-07T00:00:00Z,purchase,assets:custody:cold-01,10,,,,",
        "imp-1,2021-09-07T00:00:00Z,sale,equity:acquisitions:forfeiture,-10,,,,",
    ]
    with pytest.raises(ImportRowError) as caught:
        ledger_import_csv(rows=_csv(*rows))
    assert (caught.value.line, caught.value.field) == (3, "kind")


def test_header_must_have_the_required_columns():
    with pytest.raises(ImportRowError) as caught:
        ledger_import_csv(rows=["idempotency_key,occurred_at,kind,account\n"])
    assert (caught.value.line, caught.value.field) == (1, "amount_sats")


# The import_ledger_csv command proposes an import batch now: tests/reserve/imports/test_ledger_and_price_batches.py.
