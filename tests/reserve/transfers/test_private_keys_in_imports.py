"""Way 7 of issue 11 for files: a private key in any cell of a transfer, price or ledger CSV stops
the import with an error naming line and column (without the key), and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ValidationFailed
from ledger.errors import ImportRowError
from ledger.models import Account, JournalTransaction
from ledger.services import ledger_import_csv
from reserve.custody.models import Wallet
from reserve.imports.models import ImportBatch, ImportKind
from reserve.imports.services import import_propose
from reserve.pricing.models import PriceQuote
from reserve.transfers.models import Transfer
from tests.reserve.conftest import fake_hash
from tests.secret_keys import HEX_SECRET, TPRV, WIF_MAINNET, WIFS

pytestmark = pytest.mark.django_db

TRANSFERS = "occurred_at,direction,category,amount_btc,destination_wallet,provenance_reference,txid,block_height,memo\n"


def _transfer_row(wallet: Wallet, *, day: int, reference: str = "Order 1", memo: str = "") -> str:
    txid = fake_hash(str(day))
    return f"2025-01-{day:02d}T10:00:00Z,inbound,forfeiture,1,{wallet.name},{reference},{txid},8000{day},{memo}\n"


@pytest.mark.parametrize(
    ("changes", "column", "secret"),
    [
        ({"memo": WIF_MAINNET}, "memo", WIF_MAINNET),
        ({"memo": f"hex {HEX_SECRET}"}, "memo", HEX_SECRET),
        ({"reference": TPRV}, "provenance_reference", TPRV),
        ({"reference": f"Order {WIFS['testnet uncompressed']}"}, "provenance_reference", WIFS["testnet uncompressed"]),
    ],
)
def test_a_key_in_a_transfer_csv_names_line_and_column(
    operator: Any, cold_wallet: Wallet, changes: dict[str, str], column: str, secret: str
) -> None:
    text = TRANSFERS + _transfer_row(cold_wallet, day=1) + _transfer_row(cold_wallet, day=2, **changes)
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.TRANSFERS, data=text, actor=operator)
    assert list(caught.value.fields) == [column]
    assert caught.value.fields[column][0].startswith("line 3: ")
    assert secret not in caught.value.message
    assert not ImportBatch.objects.exists()
    assert not Transfer.objects.exists() and not JournalTransaction.objects.exists()


@pytest.mark.parametrize(("source", "secret"), [(HEX_SECRET, HEX_SECRET), (f"Desk {WIF_MAINNET}", WIF_MAINNET)])
def test_a_key_in_a_price_csv_names_line_and_column(operator: Any, source: str, secret: str) -> None:
    text = f"time,currency,price,source\n2026-01-01T00:00:00Z,USD,1,A\n2026-01-02T00:00:00Z,USD,2,{source}\n"
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.PRICES, data=text, actor=operator)
    assert caught.value.fields["source"][0].startswith("line 3: ")
    assert secret not in caught.value.message
    assert not PriceQuote.objects.exists() and not ImportBatch.objects.exists()


@pytest.mark.parametrize("memo", [WIF_MAINNET, f"seed {TPRV}", f"secret {HEX_SECRET}"])
def test_a_key_in_a_ledger_csv_memo_names_line_and_column(memo: str) -> None:
    Account.objects.create(code="assets:custody:cold-01", account_type="asset", non_negative=True)
    Account.objects.create(code="equity:acquisitions:forfeiture", account_type="equity")
    txid = fake_hash("ledger row")
    rows = (
        "idempotency_key,occurred_at,kind,account,amount_sats,memo,block_height,block_hash,txid\n"
        f"k-1,2021-09-07T00:00:00Z,purchase,assets:custody:cold-01,5,bought in {txid},,,{txid}\n"
        f"k-1,2021-09-07T00:00:00Z,purchase,equity:acquisitions:forfeiture,-5,bought in {txid},,,{txid}\n"
        f"k-2,2021-09-08T00:00:00Z,purchase,assets:custody:cold-01,5,{memo},,,\n"
        f"k-2,2021-09-08T00:00:00Z,purchase,equity:acquisitions:forfeiture,-5,{memo},,,\n"
    ).splitlines(keepends=True)
    with pytest.raises(ImportRowError) as caught:
        ledger_import_csv(rows=rows)
    assert (caught.value.line, caught.value.field) == (4, "memo")
    assert memo not in caught.value.message
    assert not JournalTransaction.objects.exists()
