"""Sixteen confirmations racing for a holdings cap with room for five: real threads, each on its
own PostgreSQL connection, posting through transfer_confirm and the policy's scope lock."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ledger.selectors import account_balance, verify_balances, verify_chain
from policy.errors import PolicyDenied
from policy.models import PolicyEvaluation
from policy.types import PolicyScope
from reserve.models import Transfer, Wallet
from reserve.policy_facts import ReservePolicyFacts
from tests.scenarios.conftest import BTC, People, activate_policy, approve, confirm, import_holdings, propose

RACERS = 16
ROOM = 5


@pytest.mark.django_db(transaction=True)
def test_sixteen_confirmations_fill_a_cap_with_room_for_five(people: People, cold: Wallet) -> None:
    # given: 10 BTC held, a perimeter cap of 15 BTC, and 16 purchases of 1 BTC, each approved
    # (each fits alone: approval judges one transfer against what is booked)
    now = timezone.now()
    import_holdings(people, [(now - timedelta(days=3), cold, 10 * BTC, 900_000)])
    activate_policy(
        people,
        name="Perimeter cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": (10 + ROOM) * BTC}}],
        effective_from=now - timedelta(days=2),
    )
    purchases = [
        approve(
            people,
            propose(
                people,
                direction="inbound",
                category="purchase",
                amount_sats=BTC,
                destination_wallet=cold,
                provenance_reference=f"Contract {index}",
            ),
        )
        for index in range(RACERS)
    ]
    assert {purchase.status for purchase in purchases} == {"approved"}
    barrier = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def race(index: int, purchase: Transfer) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = confirm(
                purchase, label=f"race-{index}", height=900_100 + index, at=now - timedelta(minutes=RACERS - index)
            )
        except Exception as error:  # the assertions below name anything unexpected
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=pair) for pair in enumerate(purchases)]
    # when: all confirm at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: no thread hung or died of a deadlock; exactly five posted and eleven were refused
    assert not any(thread.is_alive() for thread in threads)
    posted = [result for result in results if isinstance(result, Transfer)]
    refused = [result for result in results if isinstance(result, PolicyDenied)]
    assert (len(posted), len(refused)) == (ROOM, RACERS - ROOM), results
    assert all(result.status == "confirmed" for result in posted)
    statuses = sorted(Transfer.objects.filter(category="purchase").values_list("status", flat=True))
    assert statuses == ["approved"] * (RACERS - ROOM) + ["confirmed"] * ROOM
    # and each refusal is stored: it saw the cap full (15 BTC held, 16 after) and said so
    denials = PolicyEvaluation.objects.filter(gate="posting", outcome="deny")
    assert denials.count() == RACERS - ROOM
    assert {(row.lines[0]["measured_sats"], row.lines[0]["limit_sats"]) for row in denials} == {
        ((10 + ROOM + 1) * BTC, (10 + ROOM) * BTC)
    }
    still_approved = Transfer.objects.filter(category="purchase", status="approved").values_list("pk", flat=True)
    assert sorted(int(row.subject_id) for row in denials) == sorted(still_approved)
    assert PolicyEvaluation.objects.filter(gate="posting", outcome="allow").count() == ROOM
    # and the books hold exactly five more bitcoin, consistently
    assert account_balance(account=cold.ledger_account) == (10 + ROOM) * BTC
    assert ReservePolicyFacts().holdings_sats(scope=PolicyScope("perimeter")) == (10 + ROOM) * BTC
    assert verify_balances() == []
    assert verify_chain().ok
