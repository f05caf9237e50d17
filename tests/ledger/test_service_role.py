"""Issue 11, way 6: the service's own database credential, tried as an insider would.

Every statement runs as raw SQL through the service's own connection (DATABASE_URL's role),
and each test asserts that PostgreSQL refuses it and that nothing changed. The last tests play
the owner: even it cannot TRUNCATE an append-only table outside the maintenance path.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from config.database_privileges import append_only_tables
from config.database_roles import MAINTENANCE_SETTING, OWNER_ROLE, as_owner, owner_settings, service_role
from ledger.models import AccountBalance, Entry, JournalTransaction
from ledger.services import ledger_checkpoint_refresh
from tests.owner import owner_cursor, requires_role_split

pytestmark = [
    pytest.mark.django_db,
    requires_role_split,
]

WATCHED = [*append_only_tables(), "ledger_accountbalance", "ledger_balancecheckpoint", "ledger_checkpointcursor"]


def _snapshot() -> dict[str, str]:
    """A digest of every row of the books, the trails and the derived tables."""
    digests = {}
    with connection.cursor() as cursor:
        for table in WATCHED:
            cursor.execute(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t")
            digests[table] = cursor.fetchone()[0]
    return digests


def _refused(statement: str, params: list[Any] | None = None) -> str:
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    return str(refusal.value)


@pytest.fixture
def books(cold, hot, fund) -> dict[str, Any]:
    """A funded account, a posting, and checkpoints: something to tamper with."""
    fund(cold, 10_000)
    ledger_checkpoint_refresh(every=1)
    return {"cold": cold, "hot": hot, "before": _snapshot()}


def test_the_service_role_is_not_the_owner() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        user, superuser, createrole = cursor.fetchone()
    assert user == service_role()
    assert user != (owner_settings() or {}).get("USER")
    assert not superuser
    assert not createrole


@pytest.mark.parametrize("table", append_only_tables())
def test_update_delete_truncate_and_disable_trigger_are_refused_on_every_append_only_table(books, table) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        column = cursor.fetchone()[0]
    for statement in (
        f"UPDATE {table} SET {column} = {column}",
        f"DELETE FROM {table}",
        f"TRUNCATE {table} CASCADE",
        f"ALTER TABLE {table} DISABLE TRIGGER ALL",
        f"ALTER TABLE {table} DISABLE TRIGGER USER",
        f"DROP TABLE {table} CASCADE",
        f"ALTER TABLE {table} OWNER TO CURRENT_USER",
    ):
        message = _refused(statement)
        assert "permission denied" in message or "must be owner" in message, (statement, message)
    assert _snapshot() == books["before"]


def test_pending_and_the_flag_cannot_be_updated(books) -> None:
    cold = books["cold"]
    for statement in (
        "UPDATE ledger_accountbalance SET pending_sats = 0 WHERE account_id = %s",
        "UPDATE ledger_accountbalance SET pending_sats = pending_sats + 1 WHERE account_id = %s",
        "UPDATE ledger_accountbalance SET non_negative = false WHERE account_id = %s",
        "UPDATE ledger_accountbalance SET balance_sats = 10 ^ 12 WHERE account_id = %s",
        "DELETE FROM ledger_accountbalance WHERE account_id = %s",
        "INSERT INTO ledger_accountbalance SELECT * FROM ledger_accountbalance WHERE account_id = %s",
    ):
        assert "permission denied" in _refused(statement, [cold.pk])
    assert _snapshot() == books["before"]
    balance = AccountBalance.objects.get(pk=cold.pk)
    assert (balance.non_negative, balance.pending_sats, balance.balance_sats) == (True, 0, 10_000)


def test_checkpoints_are_written_only_by_their_refresh_function(books) -> None:
    cold = books["cold"]
    assert "permission denied" in _refused(
        "INSERT INTO ledger_balancecheckpoint (account_id, dimension, boundary_at, balance_sats)"
        " VALUES (%s, 'occurred_at', now() + interval '1 day', 10 ^ 15)",
        [cold.pk],
    )
    assert "permission denied" in _refused("UPDATE ledger_balancecheckpoint SET balance_sats = 0")
    assert "permission denied" in _refused("DELETE FROM ledger_checkpointcursor")
    assert "permission denied" in _refused(
        "INSERT INTO ledger_checkpointcursor (account_id, dimension, valid_through_sequence)"
        " VALUES (%s, 'block_height', 10 ^ 9)",
        [cold.pk],
    )
    assert _snapshot() == books["before"]


def _raw_journal(cursor: Any) -> uuid.UUID:
    tx_id = uuid.uuid4()
    cursor.execute(
        "INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at, posted_at,"
        " kind, memo, metadata, prev_hash, hash) VALUES (%s, nextval('ledger_journal_sequence'), %s, '', now(),"
        " now(), 'raw', '', '{}', '', %s)",
        [tx_id, f"raw-{tx_id}", "f" * 64],
    )
    return tx_id


def test_a_forged_carry_before_the_insert_is_refused(books) -> None:
    cold, hot = books["cold"], books["hot"]
    # cold holds 10,000; the carry claims 1,000,000 more, so moving 500,000 out would look covered
    with (
        pytest.raises(DatabaseError, match="does not follow from the entries"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_journal(cursor)
        cursor.execute("SELECT set_config(%s, '1000000', true)", [f"ledger.carry_{cold.pk}"])
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence,"
            " balance_after_sats) VALUES (%s, %s, -500000, 'BTC', 0, 0), (%s, %s, 500000, 'BTC', 0, 0)",
            [tx_id, cold.pk, tx_id, hot.pk],
        )
    assert _snapshot() == books["before"]


def test_a_carry_forged_between_the_rows_of_one_statement_is_refused(books) -> None:
    cold, hot = books["cold"], books["hot"]
    # The SELECT of one INSERT sets the carry before each row reaches the row trigger.
    with (
        pytest.raises(DatabaseError, match="does not follow from the entries"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        tx_id = _raw_journal(cursor)
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence,"
            " balance_after_sats)"
            " SELECT %s, leg.account_id, leg.amount, 'BTC', 0,"
            "        length(set_config('ledger.carry_' || leg.account_id, '1000000', true)) * 0"
            " FROM (VALUES (%s::bigint, -500000::bigint), (%s::bigint, 500000::bigint)) AS leg(account_id, amount)",
            [tx_id, cold.pk, hot.pk],
        )
    assert _snapshot() == books["before"]
    assert not Entry.objects.filter(amount_sats=-500000).exists()


def test_schema_changes_and_self_grants_are_refused(books) -> None:
    for statement in (
        "CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        "CREATE TABLE public.evil (id int)",
        "CREATE TEMP TABLE evil (id int)",
        "CREATE TRIGGER evil BEFORE INSERT ON ledger_entry FOR EACH ROW EXECUTE FUNCTION ledger_immutable()",
        "DROP TRIGGER ledger_entry_immutable ON ledger_entry",
        "DROP FUNCTION ledger_immutable() CASCADE",
        "CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "ALTER FUNCTION ledger_entry_after_statement() SECURITY INVOKER",
        f"GRANT {OWNER_ROLE} TO CURRENT_USER",
        f"SET ROLE {OWNER_ROLE}",
        "SET session_replication_role = replica",
        f"SELECT set_config('{MAINTENANCE_SETTING}', 'flush', false); TRUNCATE reserve_auditevent",
    ):
        message = _refused(statement)
        assert any(word in message for word in ("permission denied", "must be", "must have admin")), (
            statement,
            message,
        )
    # GRANT of a privilege one does not hold is a warning, not an error: it must grant nothing.
    with connection.cursor() as cursor:
        cursor.execute("GRANT UPDATE, DELETE, TRUNCATE, TRIGGER ON ledger_entry TO CURRENT_USER")
        cursor.execute(
            "SELECT has_table_privilege('ledger_entry', 'UPDATE'), has_table_privilege('ledger_entry', 'DELETE'),"
            " has_table_privilege('ledger_entry', 'TRUNCATE'), has_table_privilege('ledger_entry', 'TRIGGER')"
        )
        assert cursor.fetchone() == (False, False, False, False)
    assert _snapshot() == books["before"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", append_only_tables())
def test_even_the_owner_cannot_truncate_outside_the_maintenance_path(cold, fund, table) -> None:
    fund(cold, 1_000)
    before = _snapshot()
    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
        owner_cursor() as cursor,
        transaction.atomic(),
    ):
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert _snapshot() == before
    assert JournalTransaction.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_maintenance_path_is_the_owners_flush(cold, fund) -> None:
    fund(cold, 1_000)
    call_command("flush", verbosity=0, interactive=False)
    assert JournalTransaction.objects.count() == 0
    # and the setting does not outlive the flush on the owner's connection
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting(%s, true), '')", [MAINTENANCE_SETTING])
        assert cursor.fetchone()[0] == ""
