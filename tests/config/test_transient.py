"""A real PostgreSQL deadlock between two transactions is retried by `retry_transient`: both units
of work complete, the loser after running a second time (issue 12: never a 500)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from config.transient import retry_transient, transient
from reserve.custody.models import Agency
from reserve.custody.services import agency_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_deadlock_is_retried_until_both_transactions_complete(operator: Any) -> None:
    # given: two rows that two transactions lock in opposite orders
    first, second = (agency_create(name=name, kind="ministry", actor=operator) for name in ("A", "B"))
    both_hold_one = threading.Barrier(2, timeout=10)
    runs: dict[str, int] = {"forward": 0, "backward": 0}
    outcomes: dict[str, object] = {}

    def lock_in_order(label: str, order: tuple[Agency, Agency]) -> str:
        runs[label] += 1
        with transaction.atomic():
            Agency.objects.select_for_update().get(pk=order[0].pk)
            if runs[label] == 1:
                both_hold_one.wait()  # only the first attempt races: a deadlock is certain
            Agency.objects.select_for_update().get(pk=order[1].pk)
        return label

    def worker(label: str, order: tuple[Agency, Agency]) -> None:
        try:
            outcomes[label] = retry_transient(lambda: lock_in_order(label, order))
        except Exception as error:
            outcomes[label] = error
        finally:
            connection.close()

    # when
    threads = [
        threading.Thread(target=worker, args=("forward", (first, second))),
        threading.Thread(target=worker, args=("backward", (second, first))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: both finished; PostgreSQL chose one victim, which ran again
    assert outcomes == {"forward": "forward", "backward": "backward"}
    assert sorted(runs.values()) == [1, 2]


def test_other_database_errors_are_not_retried(operator: Any) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1/0")

    with pytest.raises(Exception) as raised:
        retry_transient(broken)
    assert not transient(raised.value) and calls == [1]
