"""The sealer's horizon waits for every transaction that could still commit a number at or below it.

A horizon limited to this database's backends (matched through pg_stat_activity) was tried and
reverted: under load the 16-writer test then sealed a number before a lower one had committed
(tests/ledger/log/test_concurrent_sealing.py). A long transaction in another database of the
same server therefore still holds sealing back (docs/LEDGER.md)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from ledger.log.sealer import seal_log
from ledger.models import LogPending


def _open_writer(dbname: str) -> psycopg.Connection[Any]:
    """A session as the service's role on `dbname`, left inside a transaction that holds an id."""
    params = connection.get_connection_params()
    wanted = {name: params[name] for name in ("user", "password", "host", "port") if params.get(name)}
    session = psycopg.connect(dbname=dbname, **wanted)
    session.execute("SELECT pg_current_xact_id()")
    return session


@pytest.mark.django_db(transaction=True)  # the sealer runs outside a transaction, with fresh snapshots
def test_a_running_transaction_of_this_database_still_holds_the_horizon(cold, fund):
    # given a transaction of this database holding an id older than the posting (it could hold a
    # number about to commit), the sealer must not pass it
    other = _open_writer(connection.settings_dict["NAME"])
    try:
        fund(cold, 1_000)
        result = seal_log(horizon_timeout_seconds=0.2)
        assert result.sealed == 0
        assert LogPending.objects.count() == 1
    finally:
        other.close()
    # and once it ended, the posting is sealed
    assert seal_log().sealed == 1


@pytest.mark.django_db(transaction=True)
def test_a_writer_whose_id_is_above_every_completed_id_still_holds_the_horizon(cold, fund):
    # given: posting B took its id; writer A then took a newer id and number n; B took n + 1 and
    # committed (one transaction, no savepoint: no id of B's above A's). A's id now lies above the
    # latest completed id, so it is in no snapshot's list of running ids (xmax = latest completed + 1)
    fund(cold, 5)
    seal_log()
    connection.set_autocommit(False)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
        other = _open_writer(connection.settings_dict["NAME"])
        row = other.execute("SELECT nextval('ledger_journal_sequence')").fetchone()
        assert row is not None
        (held,) = row
        fund(cold, 1_000)
        connection.commit()
    finally:
        connection.set_autocommit(True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_current_xact_id_if_assigned() IS NULL, %s < max(sequence) FROM ledger_logpending", [held]
            )
            assert cursor.fetchone() == (True, True)
        # then: the sealer does not seal B's n + 1 while A may still commit n
        assert seal_log(horizon_timeout_seconds=0.2).sealed == 0
    finally:
        other.close()
    assert seal_log().sealed == 1
