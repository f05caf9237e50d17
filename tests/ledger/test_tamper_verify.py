"""Way 6 (issue 11): someone who can switch the triggers off edits a stored derived value;
`verify_ledger` (and the selector behind /ledger/verify/) names exactly that difference, and
says ok before. Tampering needs the owner's power to disable triggers (here: replica mode)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ledger.models import Account, BalanceCheckpoint, CheckpointDimension, Entry
from ledger.services import EntrySpec, ledger_checkpoint_refresh, pending_create
from ledger.verification import STORED_VALUE_CHECKS, StoredValueDifference, verify_stored_values
from tests.ledger.conftest import unique_key
from tests.owner import behind_the_triggers, owner_cursor

pytestmark = pytest.mark.django_db(transaction=True)


def _tamper(statement: str, params: list[Any]) -> None:
    """As the owner, behind the triggers of the table the UPDATE names."""
    table = statement.split()[1]
    with behind_the_triggers(table) as cursor:
        cursor.execute(statement, params)
        assert cursor.rowcount == 1


@pytest.fixture
def books(cold: Account, hot: Account, fund) -> list[Entry]:
    """Ten postings into cold and hot, one open reservation, dense checkpoints; verified ok."""
    for sats in range(1, 11):
        fund(cold if sats % 2 else hot, sats * 1_000, block_height=100 + sats)
    pending_create(
        idempotency_key=unique_key("hold"),
        entries=[EntrySpec(account=cold, amount_sats=-500), EntrySpec(account=hot, amount_sats=500)],
        kind="transfer",
    )
    ledger_checkpoint_refresh(every=2)
    result = verify_stored_values()
    assert (result.ok, result.first_difference, result.checks) == (True, None, STORED_VALUE_CHECKS)
    call_command("verify_ledger")
    return list(Entry.objects.filter(account=cold).order_by("sequence", "id"))


def _only_difference() -> StoredValueDifference:
    result = verify_stored_values()
    assert not result.ok and result.first_difference is not None
    with pytest.raises(CommandError, match="stored value differs") as failure:
        call_command("verify_ledger")
    assert result.first_difference.describe() in str(failure.value)
    return result.first_difference


def test_a_current_balance_edited_by_hand_is_named(books: list[Entry], cold: Account) -> None:
    _tamper("UPDATE ledger_accountbalance SET balance_sats = balance_sats + 1 WHERE account_id = %s", [cold.pk])
    difference = _only_difference()
    assert (difference.check, difference.table, difference.account_id, difference.column) == (
        "current balances",
        "ledger_accountbalance",
        cold.pk,
        "balance_sats",
    )
    assert int(difference.stored) == int(difference.recomputed) + 1 == 25_001


def test_the_non_negative_flag_edited_on_the_balance_row_is_named(books: list[Entry], cold: Account) -> None:
    _tamper("UPDATE ledger_accountbalance SET non_negative = false WHERE account_id = %s", [cold.pk])
    difference = _only_difference()
    assert (difference.check, difference.account_id, difference.column, difference.stored, difference.recomputed) == (
        "current balances",
        cold.pk,
        "non_negative",
        "false",
        "true",
    )


def test_pending_sats_edited_by_hand_is_named(books: list[Entry], cold: Account) -> None:
    _tamper("UPDATE ledger_accountbalance SET pending_sats = 0 WHERE account_id = %s", [cold.pk])
    difference = _only_difference()
    assert (difference.check, difference.account_id, difference.column, difference.stored, difference.recomputed) == (
        "reservations",
        cold.pk,
        "pending_sats",
        "0",
        "500",
    )


def test_a_running_balance_edited_by_hand_is_named(books: list[Entry], cold: Account) -> None:
    third = books[2]
    _tamper("UPDATE ledger_entry SET balance_after_sats = balance_after_sats - 7 WHERE id = %s", [third.pk])
    difference = _only_difference()
    assert (difference.check, difference.table, difference.row, difference.account_id) == (
        "running balances",
        "ledger_entry",
        f"id={third.pk}",
        cold.pk,
    )
    assert (int(difference.stored), int(difference.recomputed)) == (
        third.balance_after_sats - 7,
        third.balance_after_sats,
    )


def test_an_entry_copy_of_its_transaction_edited_by_hand_is_named(books: list[Entry]) -> None:
    third = books[2]
    assert third.block_height is not None
    _tamper("UPDATE ledger_entry SET block_height = block_height + 50 WHERE id = %s", [third.pk])
    difference = _only_difference()
    assert (difference.check, difference.row, difference.column, difference.stored, difference.recomputed) == (
        "entry copies",
        f"id={third.pk}",
        "block_height",
        str(third.block_height + 50),
        str(third.block_height),
    )


@pytest.mark.parametrize("dimension", list(CheckpointDimension))
def test_a_checkpoint_edited_by_hand_is_named(books: list[Entry], cold: Account, dimension: str) -> None:
    checkpoint = BalanceCheckpoint.objects.filter(account=cold, dimension=dimension).order_by("id").first()
    assert checkpoint is not None
    _tamper("UPDATE ledger_balancecheckpoint SET balance_sats = balance_sats + 3 WHERE id = %s", [checkpoint.pk])
    difference = _only_difference()
    assert (difference.check, difference.table, difference.row, difference.account_id) == (
        f"checkpoints ({dimension})",
        "ledger_balancecheckpoint",
        f"id={checkpoint.pk}",
        cold.pk,
    )
    assert (int(difference.stored), int(difference.recomputed)) == (
        checkpoint.balance_sats + 3,
        checkpoint.balance_sats,
    )


def test_a_checkpoint_inserted_by_hand_is_named(books: list[Entry], cold: Account) -> None:
    # A boundary where refresh put none (the first position), claiming more than the entries below it.
    first = books[0]
    with owner_cursor() as cursor:  # the service's role may not write checkpoints at all
        cursor.execute(
            "INSERT INTO ledger_balancecheckpoint (account_id, dimension, boundary_height, balance_sats)"
            " VALUES (%s, 'block_height', %s, %s) RETURNING id",
            [cold.pk, first.block_height, 999_999],
        )
        (forged,) = cursor.fetchone()
    difference = _only_difference()
    assert (difference.check, difference.row, difference.stored, difference.recomputed) == (
        "checkpoints (block_height)",
        f"id={forged}",
        "999999",
        str(first.amount_sats),
    )
