"""Every `*_btc` value the API states, JSON or CSV, has exactly 8 decimals: zero is
"0.00000000", never "0E-8" (issue 11, way 11)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from ledger.amounts import MAX_SATS
from reserve.common.amounts import btc_text
from tests.reserve.api.conftest import Books

BTC_TEXT = re.compile(r"^-?\d+\.\d{8}$")
# Lists whose rows carry *_btc fields, among them zero amounts (fees of 0, empty accounts and wallets).
PATHS = [
    "/api/v1/transfers/",
    "/api/v1/wallets/",
    "/api/v1/ledger/accounts/",
    "/api/v1/ledger/transactions/",
    "/api/v1/reserve-proofs/",
    "/api/v1/holdings/",
]


@pytest.mark.parametrize(
    ("sats", "text"),
    [(0, "0.00000000"), (1, "0.00000001"), (100_000_000, "1.00000000"), (MAX_SATS, "21000000.00000000")],
)
def test_btc_text_has_exactly_eight_decimals(sats: int, text: str) -> None:
    assert btc_text(sats) == text
    assert btc_text(-sats) == ("-" + text if sats else text)


def _btc_values(data: Any) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [
            pair
            for key, value in data.items()
            for pair in ([(key, value)] if key.endswith("_btc") else _btc_values(value))
        ]
    if isinstance(data, list):
        return [pair for item in data for pair in _btc_values(item)]
    return []


@pytest.mark.django_db
def test_every_btc_field_in_json_and_csv_has_eight_decimals(clients: dict[str, Any], books: Books) -> None:
    auditor = clients["auditor"]
    seen: list[tuple[str, Any]] = []
    for path in PATHS:
        # when
        body = auditor.get(path)
        table = auditor.get(path, {"format": "csv"})
        # then
        assert body.status_code == 200 and table.status_code == 200, path
        seen += _btc_values(body.json())
        rows = list(csv.DictReader(io.StringIO(table.content.decode())))
        seen += [(key, value) for row in rows for key, value in row.items() if key and key.endswith("_btc") and value]
    bad = [(key, value) for key, value in seen if not isinstance(value, str) or not BTC_TEXT.match(value)]
    assert bad == []
    assert any(value == "0.00000000" for _, value in seen), "the fixture should show a zero amount somewhere"
