"""PostgreSQL itself refuses raw SQL that would break the books (checked at commit, so transaction=True)."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from config.database_roles import as_owner
from ledger.amounts import MAX_SATS
from ledger.models import Account, AccountBalance, Entry, JournalTransaction
from ledger.selectors import account_balance, verify_balances
from tests.owner import owner_cursor

pytestmark = pytest.mark.django_db(transaction=True)


def _raw_transaction(cursor, *, key: str, sequence: str = "nextval('ledger_journal_sequence')", prev_hash: str = ""):
    """Insert a journal row by hand, numbered by the sequence unless told otherwise, unchained."""
    tx_id = uuid.uuid4()
    cursor.execute(
        "INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at, posted_at,"
        f" kind, memo, metadata, prev_hash, hash) VALUES (%s, {sequence}, %s, '', now(), now(), 'raw', '', '{{}}',"
        " %s, %s)",
        [tx_id, key, prev_hash, "f" * 64],
    )
    return tx_id


def _raw_entry(cursor, *, tx_id: uuid.UUID, account: Account, sats: int) -> None:
    cursor.execute(
        "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)"
        " VALUES (%s, %s, %s, %s, 0, 0)",
        [tx_id, account.pk, sats, account.currency],
    )


def test_unbalanced_raw_insert_fails_at_commit(cold, equity):
    # given a raw transaction whose legs sum to +1
    # when it commits
    # then the deferred constraint trigger refuses it and nothing is left behind
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, key="raw-1")
        _raw_entry(cursor, tx_id=tx_id, account=cold, sats=1000)
        _raw_entry(cursor, tx_id=tx_id, account=equity, sats=-999)
        # inside the transaction the statements succeed: the check is deferred to commit
        assert Entry.objects.filter(transaction_id=tx_id).count() == 2
    assert not JournalTransaction.objects.exists()
    assert account_balance(account=cold) == 0


def test_balanced_raw_insert_moves_balances(cold, equity):
    # given a raw, balanced transaction
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, key="raw-2")
        _raw_entry(cursor, tx_id=tx_id, account=cold, sats=1000)
        _raw_entry(cursor, tx_id=tx_id, account=equity, sats=-1000)
    # then the insert trigger kept the balances and the denormalized position
    assert account_balance(account=cold) == 1000
    assert account_balance(account=equity) == -1000
    entry = Entry.objects.get(transaction_id=tx_id, account=cold)
    assert (entry.sequence, entry.balance_after_sats) == (JournalTransaction.objects.get(pk=tx_id).sequence, 1000)
    assert verify_balances() == []


def test_transaction_without_entries_fails_at_commit():
    with pytest.raises(IntegrityError, match="has no entries"), transaction.atomic(), connection.cursor() as cursor:
        _raw_transaction(cursor, key="raw-empty")
    assert not JournalTransaction.objects.exists()


def test_update_and_delete_of_posted_rows_fail(cold, fund):
    # given a posted transaction
    posted = fund(cold, 5000)
    entry = Entry.objects.filter(transaction=posted).order_by("pk")[0]
    for statement, params in [
        ("UPDATE ledger_entry SET amount_sats = amount_sats + 1 WHERE id = %s", [entry.pk]),
        ("DELETE FROM ledger_entry WHERE id = %s", [entry.pk]),
        ("UPDATE ledger_journaltransaction SET memo = 'edited' WHERE id = %s", [posted.pk]),
        ("DELETE FROM ledger_journaltransaction WHERE id = %s", [posted.pk]),
    ]:
        # when raw SQL tries to change it, even as the owner (the service role has no UPDATE/DELETE)
        # then the immutability trigger refuses with a clear message
        with pytest.raises(IntegrityError, match="immutable"), owner_cursor() as cursor, transaction.atomic():
            cursor.execute(statement, params)
    assert Entry.objects.get(pk=entry.pk).amount_sats == entry.amount_sats
    assert account_balance(account=cold) == 5000


def test_raw_overdraft_of_non_negative_account_fails(cold, hot, fund):
    # given cold holds 1000 sats and is non-negative
    fund(cold, 1000)
    # when raw SQL moves 1001 out of it
    with (
        pytest.raises(IntegrityError, match="ledger_balance_non_negative"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, key="raw-overdraft")
        _raw_entry(cursor, tx_id=tx_id, account=hot, sats=1001)
        _raw_entry(cursor, tx_id=tx_id, account=cold, sats=-1001)
    # then the balance CHECK refused it
    assert account_balance(account=cold) == 1000


@pytest.mark.parametrize("sats", [0, MAX_SATS + 1, -(MAX_SATS + 1)])
def test_amount_bounds_are_check_constraints(cold, equity, sats):
    with (
        pytest.raises(IntegrityError, match="ledger_entry_amount_bounds"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, key="raw-bounds")
        _raw_entry(cursor, tx_id=tx_id, account=equity, sats=sats)


def test_an_entry_of_exactly_the_bound_is_accepted(cold, equity):
    # given legs of the whole supply, written past the application
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, key="raw-at-bound")
        _raw_entry(cursor, tx_id=tx_id, account=cold, sats=MAX_SATS)
        _raw_entry(cursor, tx_id=tx_id, account=equity, sats=-MAX_SATS)
    # then PostgreSQL's bound is ledger.amounts.MAX_SATS, not one less
    assert account_balance(account=cold) == MAX_SATS


def test_entry_currency_must_match_account(cold, equity):
    with pytest.raises(IntegrityError, match="currency"), transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, key="raw-currency")
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)"
            " VALUES (%s, %s, 5, 'USD', 0, 0)",
            [tx_id, cold.pk],
        )


def test_balances_move_only_through_entries(cold):
    # as the owner (the service role may not UPDATE the balance at all)
    with pytest.raises(IntegrityError, match="only by inserting entries"), as_owner(), transaction.atomic():
        AccountBalance.objects.filter(pk=cold.pk).update(balance_sats=10**9)
    assert account_balance(account=cold) == 0


def test_account_code_and_currency_are_permanent(cold):
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
        Account.objects.filter(pk=cold.pk).update(code="assets:custody:renamed")
    # as the owner (the service role has no DELETE on accounts)
    with pytest.raises(IntegrityError, match="cannot be deleted"), owner_cursor() as cursor, transaction.atomic():
        cursor.execute("DELETE FROM ledger_account WHERE id = %s", [cold.pk])


def test_non_negative_flag_refused_on_account_below_zero(equity, cold, fund):
    # given equity is below zero after funding cold
    fund(cold, 100)
    # when it is flagged non-negative
    with pytest.raises(IntegrityError, match="ledger_balance_non_negative"), transaction.atomic():
        Account.objects.filter(pk=equity.pk).update(non_negative=True)
    # then nothing changed
    assert AccountBalance.objects.get(pk=equity.pk).non_negative is False


def test_one_statement_with_many_legs_keeps_running_balances(cold, equity):
    # given one raw INSERT statement with five legs on cold
    with transaction.atomic(), connection.cursor() as cursor:
        tx_id = _raw_transaction(cursor, key="raw-multi")
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)"
            " SELECT %s, account_id, amount, 'BTC', 0, 0 FROM unnest(%s::bigint[], %s::bigint[])"
            " WITH ORDINALITY AS leg(account_id, amount, position) ORDER BY position",
            [tx_id, [cold.pk] * 5 + [equity.pk], [100, 200, -50, 300, -25, -525]],
        )
    # then each leg carries the running balance, and the balance row moved once to the total
    running = list(
        Entry.objects.filter(transaction_id=tx_id, account=cold)
        .order_by("pk")
        .values_list("balance_after_sats", flat=True)
    )
    assert running == [100, 300, 250, 550, 525]
    assert account_balance(account=cold) == 525
    assert AccountBalance.objects.get(pk=cold.pk).entry_count == 5
    assert verify_balances() == []


def test_one_statement_may_not_dip_a_non_negative_account(cold, equity):
    # given legs that end positive but dip below zero on the way
    with (
        pytest.raises(IntegrityError, match="ledger_balance_non_negative"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_transaction(cursor, key="raw-dip")
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)"
            " SELECT %s, account_id, amount, 'BTC', 0, 0 FROM unnest(%s::bigint[], %s::bigint[])"
            " WITH ORDINALITY AS leg(account_id, amount, position) ORDER BY position",
            [tx_id, [cold.pk, cold.pk, equity.pk], [-10, 20, -10]],
        )
    assert account_balance(account=cold) == 0


@pytest.mark.parametrize(
    ("sequence", "prev_hash", "problem"),
    [
        ("(SELECT last_value + 100 FROM ledger_journal_sequence)", "", "not handed out"),
        ("nextval('ledger_journal_sequence')", "0" * 64, "not chained"),
    ],
)
def test_raw_insert_must_take_a_handed_out_number_and_no_chain(cold, fund, sequence, prev_hash, problem):
    # given one posting
    fund(cold, 10)
    # when raw SQL inserts a transaction with a number of its own choosing, or one that claims a chain link
    with pytest.raises(IntegrityError, match=problem), transaction.atomic(), connection.cursor() as cursor:
        _raw_transaction(cursor, sequence=sequence, key="raw-fork", prev_hash=prev_hash)
    # then the database refused it
    assert JournalTransaction.objects.count() == 1
