"""A category's kind against a transfer's direction: an inflow source is never used on an outbound
transfer, an outflow reason never on an inbound one. The drafts' check (policy/selectors.py
`category_check`) and the database's trigger (reserve/sql/0095_transfer_category_direction.sql)
must accept exactly the same pairs, for every term in force and every direction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from config.errors import ValidationFailed
from policy.models import Category
from policy.selectors import category_check
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer, TransferDirection
from reserve.transfers.services import transfer_create
from tests.reserve.conftest import REGTEST_EXTERNAL

pytestmark = pytest.mark.django_db


def ends(direction: str, cold: Wallet, vault: Wallet) -> dict[str, Any]:
    """A valid set of ends for `direction`, so only the category can be refused."""
    if direction == TransferDirection.INBOUND:
        return {"destination_wallet": cold}
    if direction == TransferDirection.OUTBOUND:
        return {"source_wallet": cold, "external_address": REGTEST_EXTERNAL}
    return {"source_wallet": cold, "destination_wallet": vault}


def _check_accepts(code: str, direction: str) -> bool:
    try:
        category_check(code, direction=direction)
    except ValidationFailed:
        return False
    return True


def _database_accepts(code: str, direction: str, proposer: Any, cold: Wallet, vault: Wallet) -> bool:
    try:
        with transaction.atomic():
            Transfer.objects.create(
                direction=direction, category=code, amount_sats=1, proposer=proposer, **ends(direction, cold, vault)
            )
    except IntegrityError:
        return False
    return True


def test_the_check_and_the_database_accept_exactly_the_same_pairs(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given every term in force and every direction
    terms = list(Category.objects.filter(status=Category.Status.ACTIVE).values_list("code", "kind"))
    judged = {}
    for (code, kind), direction in [(term, direction) for term in terms for direction in TransferDirection.values]:
        # when both forms of the rule judge it
        by_check = _check_accepts(code, direction)
        by_database = _database_accepts(code, direction, operator, cold_wallet, vault_wallet)
        # then they agree
        assert by_check == by_database, (code, direction)
        judged[(kind, direction)] = by_check
    # and the rule is the one stated: only an inflow source on an outflow, or the reverse, is refused
    refused = {pair for pair, accepted in judged.items() if not accepted}
    assert refused == {("inflow", "outbound"), ("outflow", "inbound")}


def test_a_transfer_naming_a_purchase_on_an_outflow_is_refused_naming_the_field(
    operator: Any, cold_wallet: Wallet
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        transfer_create(
            actor=operator,
            direction="outbound",
            category="purchase",
            amount_sats=1_000,
            source_wallet=cold_wallet,
            external_address=REGTEST_EXTERNAL,
        )
    assert refused.value.fields == {
        "category": ["purchase is an inflow category: it cannot be used on an outbound transfer"]
    }


def test_raw_sql_as_the_service_role_cannot_relabel_or_turn_a_transfer(operator: Any, cold_wallet: Wallet) -> None:
    # given an inbound purchase, written as the service role (the tests' connection is reserve_app)
    inflow = Transfer.objects.create(
        direction="inbound", category="purchase", amount_sats=1_000, destination_wallet=cold_wallet, proposer=operator
    )
    columns = [field.column for field in Transfer._meta.concrete_fields if not field.primary_key]
    copied = ", ".join("'sale'" if column == "category" else column for column in columns)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == "reserve_app"
        # when: an insert of an inbound sale, a relabel to a sale, an inbound forfeiture turned outbound
        for statement in (
            f"INSERT INTO reserve_transfer ({', '.join(columns)}) SELECT {copied} FROM reserve_transfer WHERE id = %s",
            "UPDATE reserve_transfer SET category = 'sale' WHERE id = %s",
            "UPDATE reserve_transfer SET direction = 'outbound', source_wallet_id = destination_wallet_id,"
            f" destination_wallet_id = NULL, external_address = '{REGTEST_EXTERNAL}' WHERE id = %s",
        ):
            # then each is refused by the database
            with pytest.raises(IntegrityError, match="cannot be used on an"), transaction.atomic():
                cursor.execute(statement, [inflow.pk])
