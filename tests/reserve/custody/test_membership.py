"""Wallet membership as the insider would try it: proposals that are not in force until a second
person approves them, no self-approval, no back-dating, and raw SQL that cannot edit what was approved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import Conflict, PermissionDenied, ValidationFailed
from reserve.audit.models import AuditEvent
from reserve.custody.membership import membership_approve, membership_cancel, membership_propose, membership_reject
from reserve.custody.models import Agency, Wallet, WalletMembership
from reserve.custody.selectors import membership_at, membership_history
from reserve.custody.services import agency_create
from reserve.transfers.services import transfer_record_observed
from tests.reserve.conftest import fake_hash
from tests.users import make_user

pytestmark = pytest.mark.django_db


def _state(wallet: Wallet) -> tuple[Any, ...]:
    """Everything a membership change could alter: the wallet's columns and its membership rows."""
    row = Wallet.objects.values_list("agency_id", "in_perimeter").get(pk=wallet.pk)
    rows = list(
        WalletMembership.objects.filter(wallet=wallet)
        .order_by("pk")
        .values_list("pk", "agency_id", "in_perimeter", "status", "effective_from", "decided_by_id")
    )
    return row, rows


def _sql(statement: str, params: list[Any]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_registration_is_the_first_membership_in_force_since_the_beginning(cold_wallet: Wallet) -> None:
    (first,) = membership_history(wallet_ids=[cold_wallet.pk])[cold_wallet.pk]
    assert (first.agency_id, first.in_perimeter, first.effective_from, first.effective_until) == (
        cold_wallet.agency_id,
        True,
        None,
        None,
    )
    assert membership_at(at=datetime(2000, 1, 1, tzinfo=UTC))[cold_wallet.pk] == first


def test_a_proposal_is_not_in_force_until_a_second_person_approves_it(
    operator: Any, approver: Any, cold_wallet: Wallet
) -> None:
    # given: one operator proposes to take the wallet out of the perimeter
    proposal = membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=False, reason="Decree 12/2026")
    # then: nothing is in force yet
    assert Wallet.objects.get(pk=cold_wallet.pk).in_perimeter is True
    assert membership_at(wallet_ids=[cold_wallet.pk])[cold_wallet.pk].in_perimeter is True
    # when: an approver approves it
    before = timezone.now()
    approved = membership_approve(membership=proposal, actor=approver)
    # then: it is in force from the approval on, and the wallet's columns follow it
    assert approved.status == "approved" and approved.effective_from == approved.decided_at
    assert approved.effective_from is not None and approved.effective_from >= before
    assert Wallet.objects.get(pk=cold_wallet.pk).in_perimeter is False
    old, new = membership_history(wallet_ids=[cold_wallet.pk])[cold_wallet.pk]
    assert (old.in_perimeter, old.effective_until) == (True, approved.effective_from)
    assert (new.in_perimeter, new.effective_from, new.effective_until) == (False, approved.effective_from, None)
    assert membership_at(at=before - timedelta(seconds=1))[cold_wallet.pk].in_perimeter is True
    assert {event.action for event in AuditEvent.objects.filter(object_type="reserve.walletmembership")} == {
        "membership.propose",
        "membership.approve",
    }


def test_the_proposer_cannot_approve_or_reject_their_own_proposal(cold_wallet: Wallet, agency: Agency) -> None:
    # given: one person who holds both roles proposes a move to another agency
    both = make_user("mallory", "operator", "approver")
    other = agency_create(name="Central Bank", kind="central_bank", actor=both)
    proposal = membership_propose(wallet=cold_wallet, actor=both, agency=other, reason="reorganisation")
    state = _state(cold_wallet)
    # when / then: they cannot decide on it, through the service
    for decide in (membership_approve, membership_reject):
        with pytest.raises(PermissionDenied) as refused:
            decide(membership=proposal, actor=both)
        assert refused.value.fields == {"approver": ["is the proposer"]}
    # nor by raw SQL as the service's own role
    with pytest.raises(IntegrityError, match="other than its proposer"):
        _sql(
            "UPDATE reserve_walletmembership SET status = 'approved', decided_by_id = proposed_by_id, "
            "decided_at = now(), effective_from = now() WHERE id = %s",
            [proposal.pk],
        )
    assert _state(cold_wallet) == state


def test_an_operator_cannot_flip_the_wallet_columns_or_insert_an_approved_membership(
    operator: Any, approver: Any, cold_wallet: Wallet
) -> None:
    state = _state(cold_wallet)
    with pytest.raises(IntegrityError, match="only by an approved membership"):
        _sql("UPDATE reserve_wallet SET in_perimeter = false WHERE id = %s", [cold_wallet.pk])
    with pytest.raises(IntegrityError, match="starts as a proposal"):
        _sql(
            "INSERT INTO reserve_walletmembership (wallet_id, agency_id, in_perimeter, status, reason, "
            "effective_from, proposed_by_id, proposed_at, decided_by_id, decided_at, comment) "
            "VALUES (%s, %s, false, 'approved', 'x', now(), %s, now(), %s, now(), '')",
            [cold_wallet.pk, cold_wallet.agency_id, operator.pk, approver.pk],
        )
    with pytest.raises(IntegrityError):  # a second "first" membership
        _sql(
            "INSERT INTO reserve_walletmembership (wallet_id, agency_id, in_perimeter, status, reason, "
            "effective_from, proposed_at, comment) VALUES (%s, %s, false, 'approved', 'x', NULL, now(), '')",
            [cold_wallet.pk, cold_wallet.agency_id],
        )
    assert _state(cold_wallet) == state


def test_an_approved_membership_is_immutable_and_history_cannot_be_back_dated(
    operator: Any, approver: Any, cold_wallet: Wallet
) -> None:
    approved = membership_approve(
        membership=membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=False, reason="order 1"),
        actor=approver,
    )
    initial = WalletMembership.objects.get(wallet=cold_wallet, effective_from__isnull=True)
    state = _state(cold_wallet)
    for statement in (
        "UPDATE reserve_walletmembership SET in_perimeter = true WHERE id = %s",
        "UPDATE reserve_walletmembership SET effective_from = effective_from - interval '1 year' WHERE id = %s",
        "UPDATE reserve_walletmembership SET status = 'cancelled' WHERE id = %s",
        "DELETE FROM reserve_walletmembership WHERE id = %s",
    ):
        for row in (approved, initial):
            # refused by the trigger, or for the service's role by privilege already (no DELETE)
            with pytest.raises(DatabaseError, match=r"immutable|never deleted|permission denied"):
                _sql(statement, [row.pk])
    # a proposal approved by raw SQL with a time before the membership in force is refused
    proposal = membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=True, reason="order 2")
    with pytest.raises(IntegrityError, match="takes effect when approved"):
        _sql(
            "UPDATE reserve_walletmembership SET status = 'approved', decided_by_id = %s, "
            "decided_at = %s, effective_from = %s WHERE id = %s",
            [approver.pk, approved.effective_from, approved.effective_from, proposal.pk],
        )
    # and a proposal's content cannot be edited before it is decided
    with pytest.raises(IntegrityError, match="never edited"):
        _sql("UPDATE reserve_walletmembership SET in_perimeter = false WHERE id = %s", [proposal.pk])
    assert _state(cold_wallet)[1][:2] == state[1]


def test_a_wallet_holding_bitcoin_does_not_change_membership(operator: Any, approver: Any, cold_wallet: Wallet) -> None:
    # given: the wallet holds 5 BTC
    transfer_record_observed(
        direction="inbound",
        category="forfeiture",
        amount_sats=5 * 100_000_000,
        txid=fake_hash("tx:in"),
        vout=0,
        block_height=101,
        block_hash=fake_hash("block:101"),
        occurred_at=timezone.now() - timedelta(hours=1),
        destination_wallet=cold_wallet,
    )
    proposal = membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=False, reason="untick")
    state = _state(cold_wallet)
    # when / then: the approval is refused, naming the wallet; nothing changed
    with pytest.raises(Conflict, match="holds 500000000 sats") as refused:
        membership_approve(membership=proposal, actor=approver)
    assert refused.value.fields == {"wallet": ["holds bitcoin"]}
    assert _state(cold_wallet) == state
    assert not AuditEvent.objects.filter(action="membership.approve").exists()


def test_proposals_are_refused_naming_the_field(
    operator: Any, approver: Any, auditor: Any, cold_wallet: Wallet
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=True, reason="no change")
    assert "in_perimeter" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=False, reason="  ")
    assert "reason" in refused.value.fields
    with pytest.raises(PermissionDenied):
        membership_propose(wallet=cold_wallet, actor=auditor, in_perimeter=False, reason="x")
    with pytest.raises(PermissionDenied):
        membership_propose(wallet=cold_wallet, actor=approver, in_perimeter=False, reason="x")
    proposal = membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=False, reason="x")
    with pytest.raises(Conflict) as conflict:
        membership_propose(wallet=cold_wallet, actor=operator, in_perimeter=False, reason="again")
    assert conflict.value.fields == {"wallet": ["has an open proposal"]}
    with pytest.raises(PermissionDenied):
        membership_approve(membership=proposal, actor=operator)  # lacks the approver's permission
    membership_cancel(membership=proposal, actor=operator)
    with pytest.raises(Conflict):
        membership_approve(membership=proposal, actor=approver)
    assert Wallet.objects.get(pk=cold_wallet.pk).in_perimeter is True
    assert WalletMembership.objects.filter(wallet=cold_wallet, status="approved").count() == 1
