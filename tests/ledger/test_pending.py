"""Two-phase reservations: pending_create / pending_post / pending_void / pending_expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, ProgrammingError, transaction
from django.utils import timezone

from config.errors import Conflict
from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.models import AccountBalance, PendingStatus
from ledger.selectors import account_available_balance, account_balance
from ledger.services import EntrySpec, pending_create, pending_expire, pending_post, pending_void, post_transaction

pytestmark = pytest.mark.django_db


def _reserve(source, target, sats, key="res-1", **kwargs):
    return pending_create(
        idempotency_key=key,
        entries=[EntrySpec(account=target, amount_sats=sats), EntrySpec(account=source, amount_sats=-sats)],
        kind="transfer",
        **kwargs,
    )


def test_reservation_holds_available_but_not_balance(cold, hot, fund):
    fund(cold, 1_000)
    # when 600 are reserved out of cold
    pending = _reserve(cold, hot, 600)
    # then the balance is untouched and availability drops
    assert pending.status == PendingStatus.OPEN
    assert account_balance(account=cold) == 1_000
    assert account_available_balance(account=cold) == 400
    assert account_available_balance(account=hot) == 0
    # a replay returns it; a different payload under the key conflicts
    assert _reserve(cold, hot, 600).pk == pending.pk
    with pytest.raises(IdempotencyConflict):
        _reserve(cold, hot, 601)


def test_two_reservations_cannot_together_overdraw(cold, hot, fund):
    fund(cold, 1_000)
    _reserve(cold, hot, 600, key="a")
    with pytest.raises(InsufficientFunds):
        _reserve(cold, hot, 600, key="b")
    # and a direct posting cannot spend reserved sats either
    with pytest.raises(InsufficientFunds):
        post_transaction(
            idempotency_key="direct",
            entries=[EntrySpec(account=hot, amount_sats=500), EntrySpec(account=cold, amount_sats=-500)],
            kind="transfer",
        )


def test_database_refuses_reserving_beyond_balance(cold, fund):
    # The service role may not write pending_sats at all (tests/ledger/test_service_role.py);
    # connected as the owner, the balance CHECK refuses it.
    fund(cold, 100)
    with (
        pytest.raises((IntegrityError, ProgrammingError), match=r"ledger_balance_non_negative|permission denied"),
        transaction.atomic(),
    ):
        AccountBalance.objects.filter(pk=cold.pk).update(pending_sats=101)
    assert AccountBalance.objects.get(pk=cold.pk).pending_sats == 0


def test_post_releases_and_posts_with_final_amounts(cold, hot, fees, fund):
    fund(cold, 1_000)
    pending = _reserve(cold, hot, 600)
    # when it confirms with a fee the reservation did not know
    posted = pending_post(
        pending=pending,
        idempotency_key="post-1",
        block_height=900_000,
        entries=[
            EntrySpec(account=hot, amount_sats=600),
            EntrySpec(account=fees, amount_sats=7),
            EntrySpec(account=cold, amount_sats=-607),
        ],
    )
    # then the final amounts are booked and nothing stays reserved
    assert posted.block_height == 900_000
    assert posted.kind == "transfer"
    assert account_balance(account=cold) == 393
    assert account_available_balance(account=cold) == 393
    assert account_balance(account=fees) == 7
    pending.refresh_from_db()
    assert pending.status == PendingStatus.POSTED
    assert pending.posted_transaction_id == posted.pk
    # posting again with the same key is a replay; with another key a conflict
    assert pending_post(pending=pending, idempotency_key="post-1").pk == posted.pk
    with pytest.raises(Conflict):
        pending_post(pending=pending, idempotency_key="post-2")
    with pytest.raises(Conflict):
        pending_void(pending=pending, reason="too late")


def test_void_returns_the_reserved_sats(cold, hot, fund):
    fund(cold, 1_000)
    pending = _reserve(cold, hot, 600)
    voided = pending_void(pending=pending, reason="proposal rejected")
    assert voided.status == PendingStatus.VOIDED
    assert voided.void_reason == "proposal rejected"
    assert account_available_balance(account=cold) == 1_000
    # voiding again is a no-op, posting a voided reservation a conflict
    assert pending_void(pending=pending, reason="again").status == PendingStatus.VOIDED
    assert account_available_balance(account=cold) == 1_000
    with pytest.raises(Conflict):
        pending_post(pending=pending, idempotency_key="p")


def test_expiry_voids_only_expired_reservations(cold, hot, fund):
    fund(cold, 1_000)
    now = timezone.now()
    expired = _reserve(cold, hot, 300, key="old", expires_at=now - timedelta(minutes=1))
    alive = _reserve(cold, hot, 200, key="new", expires_at=now + timedelta(hours=1))
    forever = _reserve(cold, hot, 100, key="forever")
    # when the sweeper runs
    assert pending_expire(now=now) == 1
    # then only the expired one is released
    expired.refresh_from_db()
    alive.refresh_from_db()
    forever.refresh_from_db()
    assert (expired.status, alive.status, forever.status) == ("expired", "open", "open")
    assert account_available_balance(account=cold) == 700
    assert pending_expire(now=now) == 0
    with pytest.raises(Conflict):
        pending_post(pending=expired, idempotency_key="late")
