"""balances_now (many accounts, one query) and journal_transactions_by_key_prefix (every
posting a caller keyed for one thing), against real PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.errors import ValidationFailed
from ledger.models import Account, AccountType
from ledger.selectors import (
    account_available_balance,
    account_balance,
    balances_as_of,
    balances_now,
    journal_transactions_by_key_prefix,
)
from ledger.services import EntrySpec, pending_create, post_transaction, reverse_transaction

pytestmark = pytest.mark.django_db


def _move(source: Account, target: Account, sats: int, *, key: str):
    return post_transaction(
        idempotency_key=key,
        entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
        kind="transfer",
    )


class TestBalancesNow:
    def test_many_accounts_in_one_query_with_the_untouched_ones_at_zero(self, cold, hot, fees, equity, fund):
        # given
        fund(cold, 10_000)
        _move(cold, hot, 2_500, key="move-1")
        # when
        with CaptureQueriesContext(connection) as queries:
            balances = balances_now(accounts=[cold, hot, fees, equity])
        # then
        assert len(queries) == 1
        assert balances == {cold.pk: 7_500, hot.pk: 2_500, fees.pk: 0, equity.pk: -10_000}

    def test_available_subtracts_what_open_reservations_hold(self, cold, hot, fund):
        # given: 600 of cold's 1_000 reserved for hot
        fund(cold, 1_000)
        pending_create(
            idempotency_key="res-1",
            entries=[EntrySpec(account=hot, amount_sats=600), EntrySpec(account=cold, amount_sats=-600)],
            kind="transfer",
        )
        # when
        booked, available = balances_now(accounts=[cold, hot]), balances_now(accounts=[cold, hot], available=True)
        # then: the same answers as the one-account selectors
        assert booked == {cold.pk: 1_000, hot.pk: 0}
        assert available == {cold.pk: 400, hot.pk: 0}
        assert available[cold.pk] == account_available_balance(account=cold)
        assert booked[cold.pk] == account_balance(account=cold)

    def test_an_account_the_books_hold_no_balance_for_is_zero(self, cold, fund):
        # given: an account object with no balance row behind it (never saved)
        fund(cold, 5)
        ghost = Account(pk=2**62, code="assets:ghost", account_type=AccountType.ASSET)
        # when / then
        assert balances_now(accounts=[cold, ghost]) == {cold.pk: 5, ghost.pk: 0}
        assert balances_now(accounts=[ghost], available=True) == {ghost.pk: 0}

    def test_now_agrees_with_the_as_of_answer_at_the_present(self, cold, hot, fees, fund):
        # given
        fund(cold, 900)
        _move(cold, hot, 300, key="move-1")
        _move(hot, fees, 20, key="move-2")
        # when / then: the stored balances and the entries tell the same story
        assert balances_now(accounts=[cold, hot, fees]) == balances_as_of(
            accounts=[cold, hot, fees], posted_at=timezone.now()
        )

    def test_no_accounts_asks_nothing(self):
        with CaptureQueriesContext(connection) as queries:
            assert balances_now(accounts=[]) == {}
        assert len(queries) == 0


class TestJournalTransactionsByKeyPrefix:
    def test_each_prefix_gets_every_posting_keyed_under_it_in_sequence_order(self, cold, hot, equity, fund):
        # given: thing 1 funded, moved, reversed and moved again; thing 10 moved once; an unrelated posting
        fund(cold, 10_000)
        funded = post_transaction(
            idempotency_key="app:thing:1:import",
            entries=[EntrySpec(account=cold, amount_sats=100), EntrySpec(account=equity, amount_sats=-100)],
            kind="import",
        )
        first = _move(cold, hot, 40, key="app:thing:1:confirm:aa")
        reversal = reverse_transaction(transaction=first, idempotency_key="app:thing:1:reorg:1")
        again = _move(cold, hot, 40, key="app:thing:1:confirm:bb")
        tenth = _move(cold, hot, 7, key="app:thing:10:confirm:cc")
        _move(cold, hot, 1, key="app:other:1:confirm:dd")
        # when
        with CaptureQueriesContext(connection) as queries:
            found = journal_transactions_by_key_prefix(prefixes=["app:thing:1:", "app:thing:10:", "app:thing:2:"])
            # then: entries and their accounts come prefetched
            legs = {
                journal.pk: sorted((entry.account.code, entry.amount_sats) for entry in journal.entries.all())
                for journal in found["app:thing:1:"]
            }
        assert len(queries) == 3  # journals, entries, accounts
        assert [journal.pk for journal in found["app:thing:1:"]] == [funded.pk, first.pk, reversal.pk, again.pk]
        assert [journal.pk for journal in found["app:thing:10:"]] == [tenth.pk]
        assert found["app:thing:2:"] == []
        assert legs[reversal.pk] == [("assets:custody:cold-01", 40), ("assets:custody:hot-01", -40)]

    def test_a_prefix_without_its_separator_also_matches_longer_ids(self, cold, hot, fund):
        # given
        fund(cold, 100)
        one, ten = _move(cold, hot, 1, key="t:1:x"), _move(cold, hot, 1, key="t:10:x")
        # when
        found = journal_transactions_by_key_prefix(prefixes=["t:1", "t:1:"])
        # then: which is why callers end a prefix with the separator
        assert [journal.pk for journal in found["t:1"]] == [one.pk, ten.pk]
        assert [journal.pk for journal in found["t:1:"]] == [one.pk]

    def test_a_like_wildcard_in_a_prefix_is_taken_literally(self, cold, hot, fund):
        fund(cold, 100)
        literal = _move(cold, hot, 1, key="a%b_c:1")
        _move(cold, hot, 1, key="aXbYc:1")

        found = journal_transactions_by_key_prefix(prefixes=["a%b_c:"])

        assert [journal.pk for journal in found["a%b_c:"]] == [literal.pk]

    def test_no_prefix_asks_nothing_and_an_empty_prefix_is_refused(self):
        with CaptureQueriesContext(connection) as queries:
            assert journal_transactions_by_key_prefix(prefixes=[]) == {}
        assert len(queries) == 0
        with pytest.raises(ValidationFailed) as caught:
            journal_transactions_by_key_prefix(prefixes=["ok:", ""])
        assert "prefixes" in caught.value.fields

    def test_the_lookup_is_a_range_scan_of_the_key_index_per_prefix(self, cold, fund):
        # given: the journal query the selector sends for two prefixes
        fund(cold, 100)
        with CaptureQueriesContext(connection) as queries:
            journal_transactions_by_key_prefix(prefixes=["app:thing:1:", "app:thing:2:"])
        journal_sql = queries[0]["sql"]
        # when: PostgreSQL is told to avoid sequential scans, and whole-index walks with a filter
        # (on a near-empty journal any index in key order costs as little), where it has a choice
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(f"EXPLAIN {journal_sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        # then: it has one, a range of the key's pattern index for each prefix (not a scan of the journal)
        assert plan.count("~>=~") == 2 and "idempotency_key" in plan and "Seq Scan" not in plan, plan
