"""Lots through the services and the database: inflows become lots, outflows take the oldest first
or the lots they name (checked, errors naming `lots`), a move between our wallets carries the lots'
acquisition date and provenance, a reorg gives back what it took; and the service's own role cannot
edit a lot, take a lot twice or take more than it holds, nor can two outflows at once."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from config.errors import Conflict, ValidationFailed
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.models import Lot, LotConsumption
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_create, transfer_mark_reorged
from tests.owner import behind_the_triggers, requires_role_split
from tests.race import race
from tests.reserve.compliance.scenarios.conftest import (
    BTC,
    Clock,
    People,
    activate_policy,
    approve,
    confirm,
    import_holdings,
    last_evaluation,
    propose,
)
from tests.reserve.conftest import REGTEST_EXTERNAL

OLD, NEWER = datetime(2020, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _holdings(people: People, cold: Wallet) -> tuple[Lot, Lot]:
    import_holdings(people, [(OLD, cold, 10 * BTC, 100), (NEWER, cold, 10 * BTC, 200)])
    old, newer = Lot.objects.filter(wallet=cold).order_by("acquired_at")
    return old, newer


def _out(people: People, cold: Wallet, sats: int, *, label: str, height: int, **extra: Any) -> Transfer:
    transfer = propose(
        people,
        direction="outbound",
        category="return_to_victims",
        amount_sats=sats,
        fee_sats=1_000,
        source_wallet=cold,
        external_address=REGTEST_EXTERNAL,
        provenance_reference="Order 25-cr-11",
        **extra,
    )
    return confirm(approve(people, transfer), label=label, height=height, at=NOW)


def _left(lot: Lot) -> int:
    return lot.amount_sats - sum(lot.consumptions.values_list("amount_sats", flat=True))


def test_an_outflow_takes_the_oldest_lots_first(people: People, cold: Wallet) -> None:
    old, newer = _holdings(people, cold)
    assert (old.category, old.provenance_reference, old.acquired_at) == ("forfeiture", "Historical seizure 100", OLD)

    _out(people, cold, 12 * BTC, label="fifo", height=300)

    assert (_left(old), _left(newer)) == (0, 8 * BTC - 1_000)


def test_an_outflow_takes_the_lots_it_names_in_their_order(people: People, cold: Wallet) -> None:
    old, newer = _holdings(people, cold)

    transfer = _out(people, cold, 4 * BTC, label="named", height=300, lots=[newer.pk])

    assert transfer.lot_ids == [newer.pk]
    assert (_left(old), _left(newer)) == (10 * BTC, 6 * BTC - 1_000)


@pytest.mark.parametrize(
    ("which", "message"),
    [("foreign", "not lots of the source wallet"), ("short", "the named lots hold"), ("twice", "names a lot twice")],
)
def test_named_lots_must_be_the_source_wallets_open_and_enough(
    people: People, cold: Wallet, vault: Wallet, which: str, message: str
) -> None:
    old, _ = _holdings(people, cold)
    import_holdings(people, [(NEWER, vault, BTC, 201)])
    named = {
        "foreign": [Lot.objects.get(wallet=vault).pk],
        "short": [old.pk],
        "twice": [old.pk, old.pk],
    }[which]

    with pytest.raises(ValidationFailed) as refused:
        propose(
            people,
            direction="outbound",
            category="return_to_victims",
            amount_sats=10 * BTC,
            fee_sats=1,
            source_wallet=cold,
            external_address=REGTEST_EXTERNAL,
            lots=named,
        )

    assert message in refused.value.fields["lots"][0]


def test_a_move_between_our_wallets_keeps_the_lots_provenance_and_a_reorg_gives_it_back(
    people: People, cold: Wallet, vault: Wallet
) -> None:
    old, newer = _holdings(people, cold)
    moved = propose(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=15 * BTC,
        fee_sats=500,
        source_wallet=cold,
        destination_wallet=vault,
    )
    moved = confirm(approve(people, moved), label="move", height=300, at=NOW)

    arrived = list(Lot.objects.filter(wallet=vault).order_by("id").values_list("acquired_at", "amount_sats", "origin"))
    assert arrived == [(OLD, 10 * BTC, old.pk), (NEWER, 5 * BTC, newer.pk)]
    assert _left(newer) == 5 * BTC - 500

    transfer_mark_reorged(transfer=moved)

    assert (_left(old), _left(newer)) == (10 * BTC, 10 * BTC)
    assert sum(_left(lot) for lot in Lot.objects.filter(wallet=vault)) == 0


@pytest.mark.django_db(transaction=True)
def test_two_outflows_at_once_never_take_the_same_sats(people: People, cold: Wallet) -> None:
    old, newer = _holdings(people, cold)
    transfers = [
        approve(
            people,
            propose(
                people,
                direction="outbound",
                category="return_to_victims",
                amount_sats=6 * BTC,
                source_wallet=cold,
                external_address=REGTEST_EXTERNAL,
            ),
        )
        for _ in range(2)
    ]

    results = race(
        *(lambda t=t, i=i: confirm(t, label=f"race{i}", height=300 + i, at=NOW) for i, t in enumerate(transfers))
    )

    assert all(isinstance(result, Transfer) for result in results)
    assert (_left(old), _left(newer)) == (0, 8 * BTC)
    assert LotConsumption.objects.count() == 3


@requires_role_split
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reserve_lot SET amount_sats = amount_sats + 1",
        "UPDATE reserve_lot SET category = 'purchase'",
        "DELETE FROM reserve_lotconsumption",
        "UPDATE reserve_lotconsumption SET amount_sats = 1",
        # taking more than is left, or the same lot twice in one posting
        "INSERT INTO reserve_lotconsumption (lot_id, transfer_id, journal_transaction_id, amount_sats, created_at) "
        "SELECT lot_id, transfer_id, journal_transaction_id + 0, 1, now() FROM reserve_lotconsumption LIMIT 1",
        "INSERT INTO reserve_lotconsumption (lot_id, transfer_id, journal_transaction_id, amount_sats, created_at) "
        "SELECT l.id, l.transfer_id, l.journal_transaction_id, 2 * l.amount_sats, now() FROM reserve_lot l LIMIT 1",
        # giving back more than was taken
        "INSERT INTO reserve_lotconsumption (lot_id, transfer_id, journal_transaction_id, amount_sats, restores_id, "
        "created_at) SELECT lot_id, transfer_id, journal_transaction_id, -amount_sats - 1, id, now() "
        "FROM reserve_lotconsumption LIMIT 1",
    ],
)
def test_the_service_role_cannot_edit_a_lot_or_take_one_twice(people: People, cold: Wallet, statement: str) -> None:
    _holdings(people, cold)
    _out(people, cold, 12 * BTC, label="taken", height=300)
    before = list(LotConsumption.objects.values_list("lot", "amount_sats"))

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)

    assert list(LotConsumption.objects.values_list("lot", "amount_sats")) == before


def test_a_lot_held_less_than_the_minimum_may_not_leave_and_an_exempt_reason_may(
    people: People, cold: Wallet, clock: Clock
) -> None:
    _holdings(people, cold)
    clock.set(NOW)
    activate_policy(
        people,
        name="Hold five years",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "minimum_holding", "params": {"years": 5, "exempt_reasons": ["court_order_disposal"]}}],
        effective_from=NOW - timedelta(days=1),
    )
    fields: dict[str, Any] = {
        "direction": "outbound",
        "amount_sats": BTC,
        "source_wallet": cold,
        "external_address": REGTEST_EXTERNAL,
        "provenance_reference": "Order 26-cv-1",
    }
    newer = Lot.objects.get(wallet=cold, acquired_at=NEWER)

    oldest_first = propose(people, category="return_to_victims", **fields)
    young = propose(people, category="return_to_victims", lots=[newer.pk], **fields)
    exempt = propose(people, category="court_order_disposal", lots=[newer.pk], **fields)

    assert oldest_first.status == exempt.status == "pending_approval"
    assert young.status == "draft"
    assert f"lot {newer.pk} was acquired at {NEWER.isoformat()}" in str(last_evaluation(young).lines)
    shares = ReservePolicyFacts().lots_moved(wallet_id=cold.pk, sats=BTC, lot_ids=[newer.pk])
    assert [(share.lot_id, share.sats) for share in shares] == [(newer.pk, BTC)]


@requires_role_split
@pytest.mark.django_db(transaction=True)
def test_the_backfill_makes_the_lots_of_books_kept_before_lots_once(
    people: People, cold: Wallet, vault: Wallet
) -> None:
    _holdings(people, cold)
    move = propose(
        people,
        direction="internal",
        category="internal_consolidation",
        amount_sats=15 * BTC,
        source_wallet=cold,
        destination_wallet=vault,
    )
    confirm(approve(people, move), label="move", height=300, at=NOW)
    _out(people, cold, BTC, label="out", height=301)

    def held() -> list[tuple[Any, ...]]:
        return sorted(
            (lot.wallet_id, lot.acquired_at, lot.category, lot.amount_sats, _left(lot)) for lot in Lot.objects.all()
        )

    made_by_postings = held()
    with behind_the_triggers("reserve_lot", "reserve_lotconsumption") as cursor:  # books from before lots
        cursor.execute("DELETE FROM reserve_lotconsumption; DELETE FROM reserve_lot")
    assert held() == []

    call_command("lots_backfill", stdout=io.StringIO())

    assert held() == made_by_postings
    with pytest.raises(Conflict):
        call_command("lots_backfill", stdout=io.StringIO())


def test_the_lots_named_are_part_of_the_drafts_idempotency(people: People, cold: Wallet) -> None:
    old, newer = _holdings(people, cold)
    fields: dict[str, Any] = {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_sats": BTC,
        "source_wallet": cold,
        "external_address": REGTEST_EXTERNAL,
    }
    first = transfer_create(actor=people.operator, idempotency_key="lots-1", lots=[old.pk], **fields)

    assert transfer_create(actor=people.operator, idempotency_key="lots-1", lots=[old.pk], **fields) == first
    with pytest.raises(Conflict):
        transfer_create(actor=people.operator, idempotency_key="lots-1", lots=[newer.pk], **fields)
