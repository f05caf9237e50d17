"""CSV imports (prices, historical transfers) through their import batches: all or nothing, errors
naming line and field at proposal; valuation. The maker-checker side is tests/reserve/imports/."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from config.errors import NotFound, PermissionDenied, ValidationFailed
from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.imports.models import ImportBatch, ImportKind
from reserve.imports.services import import_propose
from reserve.pricing.models import PriceQuote
from reserve.pricing.selectors import value_sats_at
from reserve.reports.holdings import holdings_report
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_record_observed
from tests.reserve.approved_imports import import_approved, import_transfers
from tests.reserve.conftest import REGTEST_EXTERNAL, fake_hash

PRICES = """time,currency,price,source
2026-01-01T00:00:00Z,USD,90000.50,Exchange A
2026-01-02T00:00:00Z,USD,95000,Exchange A
2026-01-01T00:00:00+00:00,EUR,85000,Exchange A
"""


def test_price_import_and_valuation_at_the_quote_in_force(operator: Any) -> None:
    # when
    batch = import_approved(kind=ImportKind.PRICES, text=PRICES, proposer=operator)
    # then
    assert (batch.outcome["created"], batch.outcome["unchanged"]) == (3, 0)
    assert value_sats_at(sats=50_000_000, currency="USD", at=datetime(2026, 1, 1, 12, tzinfo=UTC)) == Decimal(
        "45000.25"
    )
    assert value_sats_at(sats=100_000_000, currency="USD", at=datetime(2026, 1, 2, tzinfo=UTC)) == Decimal("95000.00")
    assert value_sats_at(sats=1, currency="EUR", at=datetime(2026, 6, 1, tzinfo=UTC)) == Decimal("0.00")
    with pytest.raises(NotFound):
        value_sats_at(sats=1, currency="USD", at=datetime(2025, 12, 31, tzinfo=UTC))
    # and importing the same file again changes nothing
    assert import_approved(kind=ImportKind.PRICES, text=PRICES, proposer=operator).outcome["unchanged"] == 3
    assert PriceQuote.objects.count() == 3


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("2026-01-03T00:00:00Z,usd,1,X", "currency", "ISO 4217"),
        ("2026-01-03,USD,1,X", "time", "no time zone"),
        ("2026-01-03T00:00:00Z,USD,-5,X", "price", "greater than zero"),
        ("2026-01-03T00:00:00Z,USD,abc,X", "price", "not a number"),
        ("2026-01-03T00:00:00Z,USD,1,", "source", "is required"),
        ("2026-01-01T00:00:00Z,USD,1,Exchange A", "price", "contradicts line 2"),
    ],
)
def test_a_bad_price_line_aborts_the_import_naming_line_and_field(
    operator: Any, line: str, field: str, message: str
) -> None:
    # given: two good lines, then the bad one on line 4
    text = PRICES.splitlines()[0] + "\n" + "\n".join(PRICES.splitlines()[1:3]) + "\n" + line + "\n"
    # when
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.PRICES, data=text, actor=operator)
    # then
    assert caught.value.fields[field][0].startswith("line 4: ") and message in caught.value.fields[field][0]
    assert f"line 4, {field}" in caught.value.message
    assert not PriceQuote.objects.exists()
    assert not ImportBatch.objects.exists()


def test_auditors_cannot_import(auditor: Any) -> None:
    with pytest.raises(PermissionDenied):
        import_propose(kind=ImportKind.PRICES, data=PRICES, actor=auditor)
    with pytest.raises(PermissionDenied):
        import_propose(kind=ImportKind.TRANSFERS, data="", actor=auditor)


def history(cold: Wallet, vault: Wallet) -> str:
    return (
        "occurred_at,direction,category,amount_btc,fee_btc,source_wallet,destination_wallet,external_address,"
        "provenance_reference,txid,vout,block_height,fiat_value,fiat_currency\n"
        f"2025-01-10T10:00:00Z,inbound,forfeiture,1.5,,,{cold.name},,Order 1,{fake_hash('h1')},0,800000,150000,USD\n"
        f"2025-02-10T10:00:00Z,internal,internal_consolidation,1,0.0001,{cold.name},{vault.name},,,{fake_hash('h2')},"
        "0,800100,,\n"
        f"2025-03-10T10:00:00Z,outbound,return_to_victims,0.2,0.00002,{cold.name},,{REGTEST_EXTERNAL},Order 2,"
        f"{fake_hash('h3')},1,800200,,\n"
    )


def test_historical_transfers_import_posts_back_dated_and_is_idempotent(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # when
    created = import_transfers(text=history(cold_wallet, vault_wallet), proposer=operator)
    # then
    assert len(created) == 3
    assert set(Transfer.objects.values_list("status", flat=True)) == {"final"}
    assert account_balance(account=cold_wallet.ledger_account) == 150_000_000 - 100_010_000 - 20_002_000
    assert account_balance(account=vault_wallet.ledger_account) == 100_000_000
    at_feb = holdings_report(at=datetime(2025, 2, 28, tzinfo=UTC))
    assert {row.label: row.balance_sats for row in at_feb.rows} == {"cold-01": 49_990_000, "vault-02": 100_000_000}
    assert holdings_report(height=800000).perimeter_sats == 150_000_000
    assert AuditEvent.objects.filter(action="transfer.import").count() == 3
    # and a second import of the same file adds nothing
    again = import_approved(kind=ImportKind.TRANSFERS, text=history(cold_wallet, vault_wallet), proposer=operator)
    assert (len(again.outcome["created"]), len(again.outcome["unchanged"])) == (0, 3)
    assert JournalTransaction.objects.count() == 3


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (",return_to_victims,0.2,", ",return_to_victims,0.000000001,", "amount_btc", "more than 8 decimal places"),
        ("2025-03-10T10:00:00Z", "2025-02-01T10:00:00Z", "occurred_at", "later than line 3"),
        (
            REGTEST_EXTERNAL,
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
            "external_address",
            "this wallet is on regtest",
        ),
        (",outbound,", ",sideways,", "direction", "must be one of"),
        (f"{fake_hash('h3')},1,", "nothex,1,", "txid", "64 hexadecimal"),
    ],
)
def test_a_bad_history_line_aborts_everything_naming_line_and_field(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet, old: str, new: str, field: str, message: str
) -> None:
    # given: lines 2 and 3 are fine, line 4 is broken
    lines = history(cold_wallet, vault_wallet).splitlines()
    lines[3] = lines[3].replace(old, new)
    # when
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.TRANSFERS, data="\n".join(lines) + "\n", actor=operator)
    # then
    assert message in caught.value.fields[field][0]
    assert caught.value.fields[field][0].startswith("line 4: ")
    assert not ImportBatch.objects.exists()
    assert not Transfer.objects.exists()
    assert not JournalTransaction.objects.exists()
    assert account_balance(account=cold_wallet.ledger_account) == 0


def test_unknown_or_missing_columns_are_named(operator: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        import_propose(
            kind=ImportKind.TRANSFERS,
            data="occurred_at,direction,category,amount_btc,txid,block_height,colour\n",
            actor=operator,
        )
    assert "unknown column" in caught.value.fields["colour"][0]
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.TRANSFERS, data="occurred_at,direction\n", actor=operator)
    assert "missing column" in caught.value.fields["category"][0]


def test_a_confirmed_transfer_without_valuation_is_valued_at_the_quote_in_force(
    operator: Any, cold_wallet: Wallet
) -> None:
    # given
    import_approved(kind=ImportKind.PRICES, text=PRICES, proposer=operator)
    # when
    transfer, _ = transfer_record_observed(
        direction="inbound",
        amount_sats=10_000_000,
        txid=fake_hash("v"),
        vout=0,
        block_height=5,
        block_hash=fake_hash("vb"),
        occurred_at=datetime(2026, 1, 1, 6, tzinfo=UTC),
        destination_wallet=cold_wallet,
    )
    # then: 0.1 BTC at 90 000.50 USD
    assert (transfer.fiat_value, transfer.fiat_currency) == (Decimal("9000.05"), "USD")
    report = holdings_report(at=datetime(2026, 1, 3, tzinfo=UTC), currency="USD")
    assert report.perimeter_fiat_value == Decimal("9500.00")


def test_import_prices_command_proposes_all_or_names_the_bad_line(operator: Any, tmp_path: Any) -> None:
    # given a good file and one whose fourth line has no time zone
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(PRICES)
    bad.write_text(PRICES.replace("2026-01-01T00:00:00+00:00", "2026-01-01"))
    # when / then: the bad file stops with the line and field, and proposes nothing
    with pytest.raises(CommandError, match=r"nothing proposed: .*line 4, time"):
        call_command("import_prices", str(bad), user=operator.username)
    assert not ImportBatch.objects.exists()
    # when / then: the good file becomes a pending batch, named with its id and hash; no quote yet
    output = StringIO()
    call_command("import_prices", str(good), user=operator.username, stdout=output)
    batch = ImportBatch.objects.get()
    assert f"import batch #{batch.pk} (prices, sha256 {batch.file_sha256}): pending approval" in output.getvalue()
    assert batch.rows.count() == 3
    assert not PriceQuote.objects.exists()
    # and an unknown importing user is refused before reading anything
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("import_prices", str(good), user="nobody")
