"""Ledger CSV and price CSV imports go the way transfer imports go: a batch, approved by the
quorum by its hash, posted in one transaction; a wallet's account moves only as a transfer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from config.errors import Conflict, PermissionDenied, ValidationFailed
from ledger.models import Account, JournalTransaction
from ledger.selectors import account_balance
from ledger.services import account_create
from reserve.custody.models import Wallet
from reserve.imports.models import ImportBatch, ImportKind, ImportStatus
from reserve.imports.services import import_approve, import_propose
from reserve.pricing.models import PriceQuote
from reserve.pricing.selectors import value_sats_at
from tests.reserve.approved_imports import import_approved

pytestmark = pytest.mark.django_db

LEDGER_HEADER = "idempotency_key,occurred_at,kind,account,amount_sats,memo,block_height,block_hash,txid\n"
PRICES = (
    "time,currency,price,source\n2026-01-01T00:00:00Z,USD,90000,Exchange A\n2026-01-02T00:00:00Z,USD,95000,Exchange A\n"
)


@pytest.fixture
def books() -> tuple[Account, Account]:
    """Two accounts no custody wallet owns (a fiat-side clearing pair)."""
    return (
        account_create(code="assets:clearing:escrow", account_type="asset"),
        account_create(code="equity:opening", account_type="equity"),
    )


def ledger_file(debit: str, credit: str) -> str:
    return (
        LEDGER_HEADER
        + f"imp-1,2021-09-07T00:00:00Z,opening,{debit},40000000,opening,,,\n"
        + f"imp-1,2021-09-07T00:00:00Z,opening,{credit},-40000000,opening,,,\n"
    )


def test_import_ledger_csv_proposes_and_posts_only_on_the_quorum(
    operator: Any, approver: Any, approver2: Any, books: tuple[Account, Account], tmp_path: Path
) -> None:
    # given
    escrow, opening = books
    path = tmp_path / "ledger.csv"
    path.write_text(ledger_file(escrow.code, opening.code))
    output = StringIO()
    # when
    call_command("import_ledger_csv", str(path), user=operator.username, stdout=output)
    # then: a pending batch named by id and hash; the books untouched
    batch = ImportBatch.objects.get()
    assert f"import batch #{batch.pk} (ledger, sha256 {batch.file_sha256})" in output.getvalue()
    assert not JournalTransaction.objects.exists()
    with pytest.raises(PermissionDenied):
        import_approve(batch=batch, actor=operator, file_sha256=batch.file_sha256)
    # when: two approvers approve
    import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    assert not JournalTransaction.objects.exists()
    batch = import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    # then: posted once
    assert (batch.status, batch.outcome["created"]) == (ImportStatus.POSTED, 1)
    assert account_balance(account=escrow) == 40_000_000
    with pytest.raises(Conflict):
        import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    assert JournalTransaction.objects.count() == 1


def test_a_ledger_row_on_a_custody_wallets_account_is_refused_at_proposal(
    operator: Any, cold_wallet: Wallet, books: tuple[Account, Account], tmp_path: Path
) -> None:
    # given: a ledger file that would credit reserve bitcoin into a wallet, around the policy
    _, opening = books
    text = ledger_file(cold_wallet.ledger_account.code, opening.code)
    # when / then
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.LEDGER, data=text, actor=operator)
    assert caught.value.fields["account"][0].startswith("line 2: ")
    assert "wallet_moves_are_transfers" in caught.value.message
    path = tmp_path / "ledger.csv"
    path.write_text(text)
    with pytest.raises(CommandError, match=r"nothing proposed: line 2, account"):
        call_command("import_ledger_csv", str(path), user=operator.username)
    assert not ImportBatch.objects.exists()
    assert not JournalTransaction.objects.exists()
    assert account_balance(account=cold_wallet.ledger_account) == 0


def test_a_bad_ledger_line_is_named_at_proposal(operator: Any, books: tuple[Account, Account]) -> None:
    escrow, opening = books
    text = ledger_file(escrow.code, opening.code).replace("-40000000", "-40000001")
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.LEDGER, data=text, actor=operator)
    assert "amount_sats" in caught.value.fields
    assert not ImportBatch.objects.exists()


def test_ledger_import_needs_its_permission(auditor: Any, approver: Any, books: tuple[Account, Account]) -> None:
    escrow, opening = books
    for user in (auditor, approver):
        with pytest.raises(PermissionDenied):
            import_propose(kind=ImportKind.LEDGER, data=ledger_file(escrow.code, opening.code), actor=user)
    assert not ImportBatch.objects.exists()


def test_every_price_import_is_a_batch_and_changes_valuations_only_on_the_quorum(
    operator: Any, approver: Any, approver2: Any
) -> None:
    # given: a quote in force
    import_approved(kind=ImportKind.PRICES, text=PRICES, proposer=operator)
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert value_sats_at(sats=100_000_000, currency="USD", at=at) == Decimal("90000.00")
    # when: a file slips a quote in before the one a report used
    text = "time,currency,price,source\n2026-01-01T06:00:00Z,USD,1,Exchange B\n"
    batch = import_propose(kind=ImportKind.PRICES, data=text, actor=operator)
    # then: the valuation is unchanged while the batch waits, and its proposer cannot approve it
    assert value_sats_at(sats=100_000_000, currency="USD", at=at) == Decimal("90000.00")
    with pytest.raises(PermissionDenied):
        import_approve(batch=batch, actor=operator, file_sha256=batch.file_sha256)
    # and: its rows cannot be changed to something else meanwhile
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reserve_importrow SET cells = '{}' WHERE batch_id = %s", [batch.pk])
    # when: the quorum approves
    import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    assert PriceQuote.objects.count() == 2
    batch = import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    # then: the quote is stored, once
    assert batch.status == ImportStatus.POSTED
    assert PriceQuote.objects.count() == 3
    assert value_sats_at(sats=100_000_000, currency="USD", at=at) == Decimal("1.00")
