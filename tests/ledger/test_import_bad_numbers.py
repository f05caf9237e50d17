"""Ledger CSV numbers an insider might craft: other scripts' digits, superscripts, amounts past
the supply, and sums that overflow PostgreSQL's bigint. Each is refused naming line and field,
and nothing is posted."""

from __future__ import annotations

import pytest

from ledger.errors import ImportRowError
from ledger.models import MAX_SATS, JournalTransaction
from ledger.services import ledger_import_csv
from tests.ledger.test_import import _csv

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("amount", "height"),
    [
        ("\u0661\u0660", "700000"),  # Arabic-Indic "10": int() would read it as 10
        ("\u00b2", "700000"),  # superscript two: isdigit() says yes, int() then crashes
        ("40000000", "\u0667\u0660\u0660"),  # a block height in Arabic-Indic digits
        (str(MAX_SATS + 1), "700000"),
    ],
)
def test_crafted_numbers_are_refused_naming_line_and_field(cold, equity, amount: str, height: str) -> None:
    rows = _csv(
        f"imp-1,2021-09-07T00:00:00Z,purchase,assets:custody:cold-01,{amount},,{height},,",
        f"imp-1,2021-09-07T00:00:00Z,purchase,equity:acquisitions:forfeiture,-{amount},,{height},,",
    )
    with pytest.raises(ImportRowError) as refused:
        ledger_import_csv(rows=rows)
    assert (refused.value.line, refused.value.field) == (2, "amount_sats" if height == "700000" else "block_height")
    assert not JournalTransaction.objects.exists()


def test_a_file_whose_sums_overflow_bigint_is_refused_naming_the_line(cold, equity) -> None:
    # given enough maximal legs on one account that their sum passes 2^63 - 1
    count = (2**63 - 1) // MAX_SATS + 1
    rows = []
    for n in range(count):
        stamp = f"2021-09-07T00:00:{n % 60:02d}Z".replace("00:00:", f"{n // 3600:02d}:{n // 60 % 60:02d}:")
        rows += [
            f"imp-{n},{stamp},purchase,assets:custody:cold-01,{MAX_SATS},,,,",
            f"imp-{n},{stamp},purchase,equity:acquisitions:forfeiture,-{MAX_SATS},,,,",
        ]
    # when / then
    with pytest.raises(ImportRowError) as refused:
        ledger_import_csv(rows=_csv(*rows))
    assert refused.value.field == "amount_sats" and refused.value.line == 2 * count
    assert not JournalTransaction.objects.exists()
