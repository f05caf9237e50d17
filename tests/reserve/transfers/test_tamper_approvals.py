"""Way 6 (issue 11): transfer approvals as the database keeps them, tried with raw SQL on the
test's own connection (triggers only, no privilege: holds for the owner and the app role)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from reserve.custody.models import Wallet
from reserve.transfers.models import Approval, Transfer
from reserve.transfers.services import transfer_approve, transfer_create, transfer_propose

pytestmark = pytest.mark.django_db(transaction=True)

INSERT_APPROVAL = (
    "INSERT INTO reserve_approval (transfer_id, approver_id, decision, comment, at)"
    " VALUES (%s, %s, 'approve', '', now())"
)


def _refused(statement: str, params: list[Any]) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def _pending(operator: Any, wallet: Wallet) -> Transfer:
    transfer = transfer_create(
        actor=operator,
        direction="inbound",
        category="forfeiture",
        amount_sats=1_000_000,
        destination_wallet=wallet,
        provenance_reference="Order 11",
    )
    return transfer_propose(transfer=transfer, actor=operator)


def _state(transfer: Transfer) -> tuple[object, ...]:
    row = Transfer.objects.get(pk=transfer.pk)
    approvals = list(Approval.objects.filter(transfer=transfer).order_by("pk").values_list("approver_id", "decision"))
    return row.status, row.proposer_id, approvals


def test_an_approval_by_a_user_without_the_role_is_refused(
    operator: Any, operator2: Any, auditor: Any, cold_wallet: Wallet
) -> None:
    transfer = _pending(operator, cold_wallet)
    before = _state(transfer)
    nobody = User.objects.create_user(username="mallory")
    for user in (operator2, auditor, nobody):
        _refused(INSERT_APPROVAL, [transfer.pk, user.pk])
    assert _state(transfer) == before


def test_an_approver_who_lost_the_account_is_refused(operator: Any, approver: Any, cold_wallet: Wallet) -> None:
    transfer = _pending(operator, cold_wallet)
    User.objects.filter(pk=approver.pk).update(is_active=False)
    _refused(INSERT_APPROVAL, [transfer.pk, approver.pk])
    assert not Approval.objects.filter(transfer=transfer).exists()


def test_a_holder_of_the_role_is_accepted_by_the_database(operator: Any, approver: Any, cold_wallet: Wallet) -> None:
    transfer = _pending(operator, cold_wallet)
    with connection.cursor() as cursor:
        cursor.execute(INSERT_APPROVAL, [transfer.pk, approver.pk])
    assert list(Approval.objects.filter(transfer=transfer).values_list("approver_id", flat=True)) == [approver.pk]


def test_the_proposer_cannot_be_changed(operator: Any, operator2: Any, approver: Any, cold_wallet: Wallet) -> None:
    transfer = _pending(operator, cold_wallet)
    # before any approval: the proposer is already permanent (set at creation)
    _refused("UPDATE reserve_transfer SET proposer_id = %s WHERE id = %s", [operator2.pk, transfer.pk])
    transfer_approve(transfer=transfer, actor=approver)
    before = _state(transfer)
    # after an approval: neither to someone else (who could then approve) nor to nobody
    _refused("UPDATE reserve_transfer SET proposer_id = %s WHERE id = %s", [operator2.pk, transfer.pk])
    _refused("UPDATE reserve_transfer SET proposer_id = NULL WHERE id = %s", [transfer.pk])
    assert _state(transfer) == before


def test_approval_rows_are_permanent(operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet) -> None:
    transfer = _pending(operator, cold_wallet)
    transfer_approve(transfer=transfer, actor=approver)
    before = _state(transfer)
    _refused("UPDATE reserve_approval SET approver_id = %s WHERE transfer_id = %s", [approver2.pk, transfer.pk])
    _refused("UPDATE reserve_approval SET decision = 'reject' WHERE transfer_id = %s", [transfer.pk])
    _refused("DELETE FROM reserve_approval WHERE transfer_id = %s", [transfer.pk])
    assert _state(transfer) == before
