"""Way 6 (issue 11): entries join a journal transaction only in the database transaction that
inserted it, tried as an insider would, with raw SQL on the test's own connection. Relies on
triggers alone (no privilege), so it holds whether the connection is the owner or the app role."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger.models import Account, AccountBalance, Entry, JournalTransaction, PendingEntry
from ledger.selectors import account_balance
from ledger.services import EntrySpec, pending_create
from tests.ledger.conftest import unique_key

pytestmark = pytest.mark.django_db(transaction=True)

INSERT_ENTRY = (
    "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)"
    " VALUES (%s, %s, %s, 'BTC', 0, 0)"
)


def _state() -> tuple[int, list[tuple[int, int]], int]:
    balances = list(AccountBalance.objects.order_by("pk").values_list("balance_sats", "entry_count"))
    return Entry.objects.count(), balances, PendingEntry.objects.count()


def test_legs_added_to_a_committed_transaction_are_refused(cold: Account, equity: Account, fund) -> None:
    # given: a committed posting
    posted = fund(cold, 1_000)
    before = _state()
    # when: a balanced pair of legs is added to it later (so the sum-to-zero check is satisfied)
    refused = pytest.raises(IntegrityError, match="inserted only with their transaction")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_ENTRY, [posted.pk, cold.pk, 5_000])
        cursor.execute(INSERT_ENTRY, [posted.pk, equity.pk, -5_000])
    # then: nothing changed
    assert _state() == before
    assert account_balance(account=cold) == 1_000


def test_a_forged_stamp_on_the_journal_row_does_not_help(cold: Account, equity: Account, fund) -> None:
    # given: a committed posting; its stamp cannot be rewritten (journal rows are immutable)
    posted = fund(cold, 1_000)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_journaltransaction SET inserted_xact = pg_current_xact_id() WHERE id = %s", [posted.pk]
        )
    # and a raw journal row that names another transaction's id as its stamp is re-stamped
    with transaction.atomic(), connection.cursor() as cursor:
        raw_id = uuid.uuid4()
        cursor.execute(
            "INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at,"
            " posted_at, kind, memo, metadata, prev_hash, hash, inserted_xact)"
            " VALUES (%s, nextval('ledger_journal_sequence'), %s, '', now(), now(), 'raw', '', '{}', '', %s,"
            " '1'::xid8)",
            [raw_id, unique_key("raw"), "f" * 64],
        )
        cursor.execute(INSERT_ENTRY, [raw_id, cold.pk, 7])
        cursor.execute(INSERT_ENTRY, [raw_id, equity.pk, -7])
        cursor.execute(
            "SELECT inserted_xact = pg_current_xact_id() FROM ledger_journaltransaction WHERE id = %s", [raw_id]
        )
        assert cursor.fetchone() == (True,)
    # then: a transaction with its legs, in one database transaction, still posts (also by hand)
    assert account_balance(account=cold) == 1_007
    assert JournalTransaction.objects.get(pk=raw_id).entries.count() == 2


def test_savepoints_inside_the_inserting_transaction_still_work(cold: Account, equity: Account) -> None:
    # given/when: the journal row and its legs go in under different savepoints of one transaction
    with transaction.atomic(), connection.cursor() as cursor:
        raw_id = uuid.uuid4()
        with transaction.atomic():
            cursor.execute(
                "INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at,"
                " posted_at, kind, memo, metadata, prev_hash, hash)"
                " VALUES (%s, nextval('ledger_journal_sequence'), %s, '', now(), now(), 'raw', '', '{}', '', %s)",
                [raw_id, unique_key("raw"), "f" * 64],
            )
        with transaction.atomic():
            cursor.execute(INSERT_ENTRY, [raw_id, cold.pk, 9])
            cursor.execute(INSERT_ENTRY, [raw_id, equity.pk, -9])
    # then
    assert account_balance(account=cold) == 9


def test_legs_added_to_an_open_reservation_are_refused(cold: Account, hot: Account, fund) -> None:
    # given: an open reservation of 100 out of cold
    fund(cold, 1_000)
    pending = pending_create(
        idempotency_key=unique_key("hold"),
        entries=[EntrySpec(account=cold, amount_sats=-100), EntrySpec(account=hot, amount_sats=100)],
        kind="transfer",
    )
    before = _state()
    # when: an insider adds legs that would move 900 more at posting, or edits or drops a leg
    attempts: list[tuple[str, list[Any]]] = [
        (
            "INSERT INTO ledger_pendingentry (pending_id, account_id, amount_sats, currency)"
            " VALUES (%s, %s, %s, 'BTC')",
            [pending.pk, cold.pk, -900],
        ),
        ("UPDATE ledger_pendingentry SET amount_sats = amount_sats * 9 WHERE pending_id = %s", [pending.pk]),
        ("DELETE FROM ledger_pendingentry WHERE pending_id = %s", [pending.pk]),
        ("UPDATE ledger_pendingtransaction SET inserted_xact = pg_current_xact_id() WHERE id = %s", [pending.pk]),
    ]
    for statement, params in attempts:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
    # then: the reservation is what it was
    assert _state() == before
    assert sorted(pending.entries.values_list("amount_sats", flat=True)) == [-100, 100]
