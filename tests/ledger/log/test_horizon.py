"""The sealer's horizon waits for this database's running transactions, never another database's."""

from __future__ import annotations

import time
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
def test_a_long_transaction_in_another_database_does_not_hold_sealing_back(cold, fund):
    # given a transaction open in another database of the same server, begun before the posting
    other = _open_writer("postgres")
    try:
        fund(cold, 1_000)
        # when the sealer runs with a short patience
        started = time.monotonic()
        result = seal_log(horizon_timeout_seconds=2.0)
        # then it sealed the posting without waiting for the other database
        assert result.sealed == 1
        assert time.monotonic() - started < 2.0
        assert not LogPending.objects.exists()
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)  # the sealer runs outside a transaction, with fresh snapshots
def test_a_running_transaction_of_this_database_still_holds_the_horizon(cold, fund):
    # given a transaction of this database holding an id older than the posting (it could hold a
    # number about to commit), the filter by database must not let the sealer past it
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
