"""A transfer's category is a term of the governed vocabulary in force: a proposed term is refused
until two policy administrators approve it, by the service (naming the field) and by the
database (raw SQL as the service's role)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from config.errors import ValidationFailed
from policy.models import Category
from policy.services import category_approve, category_propose
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_create
from tests.owner import requires_role_split


def _inflow(operator: Any, wallet: Any, category: str) -> Transfer:
    return transfer_create(
        actor=operator,
        direction="inbound",
        category=category,
        amount_sats=1_000,
        destination_wallet=wallet,
        provenance_reference="Unclaimed Property Act s. 12",
    )


def _proposed(policy_admins: list[Any]) -> Category:
    return category_propose(
        code="escheat",
        kind="inflow",
        legal_reference="State Unclaimed Property Act s. 12",
        description="Bitcoin escheated to the state after the dormancy period.",
        author=policy_admins[0],
    )


@pytest.mark.django_db
def test_a_transfer_uses_a_new_term_only_once_it_is_approved(operator, cold_wallet, policy_admins) -> None:
    term = _proposed(policy_admins)
    with pytest.raises(ValidationFailed) as refused:
        _inflow(operator, cold_wallet, "escheat")
    assert "category" in refused.value.fields
    assert not Transfer.objects.exists()
    category_approve(category=term, approver=policy_admins[1])
    with pytest.raises(ValidationFailed):
        _inflow(operator, cold_wallet, "escheat")
    category_approve(category=term, approver=policy_admins[2])
    assert _inflow(operator, cold_wallet, "escheat").category == "escheat"
    assert _inflow(operator, cold_wallet, "seizure").category == "seizure"


def _refused(statement: str, params: list[Any]) -> None:
    with (
        pytest.raises(DatabaseError, match="is not an approved category"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)


@requires_role_split
@pytest.mark.django_db(transaction=True)
def test_raw_sql_cannot_book_a_category_not_in_force(operator, cold_wallet, policy_admins) -> None:
    _proposed(policy_admins)
    transfer = _inflow(operator, cold_wallet, "purchase")
    for code in ("escheat", "made_up"):
        _refused("UPDATE reserve_transfer SET category = %s WHERE id = %s", [code, transfer.pk])
        _refused(
            "INSERT INTO reserve_transfer (direction, category, provenance_reference, memo, amount_sats, fee_sats,"
            " destination_wallet_id, external_address, status, observed, request_hash, txid, created_at,"
            " updated_at) SELECT direction, %s, provenance_reference, memo, amount_sats, fee_sats,"
            " destination_wallet_id, external_address, status, observed, request_hash, txid, now(), now()"
            " FROM reserve_transfer WHERE id = %s",
            [code, transfer.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE reserve_transfer SET memo = 'still fine' WHERE id = %s", [transfer.pk])
    assert Transfer.objects.get(pk=transfer.pk).category == "purchase"
    assert Transfer.objects.count() == 1
