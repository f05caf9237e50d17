"""Races for a cap: sixteen confirmations against a holdings cap with room for five, and eight
approvals against a velocity limit with room for three. Real threads, each on its own
PostgreSQL connection, through the transfer services and the policy's scope lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ledger.models import PendingTransaction
from ledger.selectors import account_available_balance, account_balance, verify_balances, verify_chain
from policy import services as policy_services
from policy.errors import PolicyDenied
from policy.models import PolicyEvaluation, PolicyVersion
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve
from tests.reserve.compliance.scenarios.conftest import (
    BTC,
    People,
    activate_policy,
    approve,
    confirm,
    import_holdings,
    propose,
)
from tests.reserve.conftest import REGTEST_EXTERNAL

RACERS = 16
ROOM = 5


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start the calls together on their own threads (and connections); results or exceptions.
    Fails if any thread is still running after a minute (a deadlock or a lost wake-up)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as error:  # the callers' assertions name anything unexpected
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


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
    # when: all confirm at the same moment
    results = all_at_once(
        [
            partial(
                confirm,
                purchase,
                label=f"race-{index}",
                height=900_100 + index,
                at=now - timedelta(minutes=RACERS - index),
            )
            for index, purchase in enumerate(purchases)
        ]
    )
    # then: no thread hung or died of a deadlock; exactly five posted and eleven were refused
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
    # (the historical import's own posting gate allowed its one row before the race)
    purchase_ids = [str(pk) for pk in Transfer.objects.filter(category="purchase").values_list("pk", flat=True)]
    assert PolicyEvaluation.objects.filter(gate="posting", outcome="allow", subject_id__in=purchase_ids).count() == ROOM
    # and the books hold exactly five more bitcoin, consistently
    assert account_balance(account=cold.ledger_account) == (10 + ROOM) * BTC
    assert ReservePolicyFacts().holdings_sats(scope=PolicyScope("perimeter")) == (10 + ROOM) * BTC
    assert verify_balances() == []
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_eight_approvals_fill_a_velocity_limit_with_room_for_three(people: People, cold: Wallet) -> None:
    # given: 10 BTC held, at most 1 BTC out per day, and eight returns of 0.3 BTC each, each
    # one approval short of the quorum
    now = timezone.now()
    import_holdings(people, [(now - timedelta(days=3), cold, 10 * BTC, 900_000)])
    activate_policy(
        people,
        name="Outflow velocity",
        scope=PolicyScope("perimeter"),
        rules=[
            {"type": "velocity_limit", "params": {"max_sats": BTC, "window_seconds": 86_400, "direction": "outbound"}}
        ],
        effective_from=now - timedelta(days=2),
    )
    returns = [
        approve(
            people,
            propose(
                people,
                direction="outbound",
                category="return_to_victims",
                amount_sats=30_000_000,
                fee_sats=1_000,
                source_wallet=cold,
                external_address=REGTEST_EXTERNAL,
                provenance_reference=f"Court order {index}",
            ),
            count=1,
        )
        for index in range(8)
    ]
    assert {transfer.status for transfer in returns} == {"pending_approval"}
    closer = people.approvers[1]
    # when: the quorum-reaching approvals race
    results = all_at_once([partial(transfer_approve, transfer=transfer, actor=closer) for transfer in returns])
    # then: each approval saw the reservations committed before it; three fit, five are refused
    # (the policy now denies them) and stay pending, each refusal on record
    assert sorted(type(result).__name__ for result in results) == ["PolicyDenied"] * 5 + ["Transfer"] * 3, results
    statuses = sorted(Transfer.objects.filter(category="return_to_victims").values_list("status", flat=True))
    assert statuses == ["approved"] * 3 + ["pending_approval"] * 5
    assert PendingTransaction.objects.filter(status="open").count() == 3
    assert account_available_balance(account=cold.ledger_account) == 10 * BTC - 3 * 30_001_000
    refusals = PolicyEvaluation.objects.filter(gate="approval", outcome="deny")
    assert refusals.count() == 5
    assert {(row.lines[0]["measured_sats"], row.lines[0]["limit_sats"]) for row in refusals} == {(120_000_000, BTC)}


@pytest.mark.django_db(transaction=True)
def test_a_first_version_activated_during_a_posting_waits_for_it(
    people: People, cold: Wallet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a first cap for the perimeter, drafted and approved once (one approval short),
    # and a purchase of 1 BTC approved while no policy is in force
    now = timezone.now()
    author, first, second = people.policy_admins
    draft = policy_create_draft(
        name="First cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": BTC // 2}}],
        effective_from=now - timedelta(days=1),
        author=author,
    )
    policy_approve(version=draft, approver=first)
    purchase = approve(
        people, propose(people, direction="inbound", category="purchase", amount_sats=BTC, destination_wallet=cold)
    )
    # when: the last approval of the cap is given (on its own connection) while the posting
    # judges the purchase
    real_versions_in_force = policy_services.versions_in_force
    activation: list[threading.Thread] = []

    def activate_meanwhile(**kwargs: Any) -> Any:
        if not activation:
            thread = threading.Thread(
                target=all_at_once, args=([partial(policy_approve, version=draft, approver=second)],)
            )
            activation.append(thread)
            thread.start()
            thread.join(timeout=1)
        return real_versions_in_force(**kwargs)

    monkeypatch.setattr(policy_services, "versions_in_force", activate_meanwhile)
    posted = confirm(purchase, label="in-flight", height=100, at=now - timedelta(minutes=5))
    activation_was_waiting = activation[0].is_alive()
    activation[0].join(timeout=30)
    # then: the activation waited for the posting's scope lock, so the posting was judged
    # wholly before the cap (no version half-seen), and the cap is in force after it
    assert activation_was_waiting
    assert posted.status == "confirmed"
    assert PolicyEvaluation.objects.get(gate="posting").versions == []
    assert PolicyVersion.objects.get(pk=draft.pk).status == "active"
