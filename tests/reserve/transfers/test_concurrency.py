"""Races against committed data: replays of one idempotency key, and approvals racing for the
last slot of a reservation. Real threads, real transactions (deferred ledger triggers fire)."""

from typing import Any

import pytest

from config.errors import ApplicationError
from ledger.models import PendingTransaction
from ledger.selectors import account_available_balance, account_balance
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import transfer_approve, transfer_confirm, transfer_create, transfer_propose
from tests.race import race
from tests.reserve.conftest import REGTEST_EXTERNAL, block_time, fake_hash
from tests.users import make_user


@pytest.mark.django_db(transaction=True)
def test_racing_replays_of_one_key_create_one_transfer(operator: Any, cold_wallet: Wallet) -> None:
    # given
    fields: dict[str, Any] = {
        "direction": "inbound",
        "category": "donation",
        "amount_sats": 99,
        "destination_wallet": cold_wallet,
        "idempotency_key": "client-42",
    }
    # when
    results = race(*[lambda: transfer_create(actor=operator, **fields) for _ in range(4)], catch=ApplicationError)
    # then
    assert all(isinstance(result, Transfer) for result in results), results
    assert len({result.pk for result in results}) == 1
    assert Transfer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_outflows_racing_for_the_same_sats_do_not_both_reserve(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: 1 BTC booked, and two proposals of 0.6 BTC each with one approval each
    funding = transfer_create(
        actor=operator,
        direction="inbound",
        category="forfeiture",
        amount_sats=100_000_000,
        destination_wallet=cold_wallet,
    )
    transfer_propose(transfer=funding, actor=operator)
    transfer_approve(transfer=funding, actor=approver)
    transfer_approve(transfer=funding, actor=approver2)
    transfer_confirm(
        transfer=funding,
        txid=fake_hash("f"),
        vout=0,
        block_height=1,
        block_hash=fake_hash("fb"),
        occurred_at=block_time(1),
    )
    outflows = []
    for _ in range(2):
        outflow = transfer_create(
            actor=operator,
            direction="outbound",
            category="return_to_victims",
            amount_sats=60_000_000,
            source_wallet=cold_wallet,
            external_address=REGTEST_EXTERNAL,
        )
        transfer_propose(transfer=outflow, actor=operator)
        transfer_approve(transfer=outflow, actor=approver)
        outflows.append(outflow)
    closers = [make_user("carla", "approver"), make_user("dario", "approver")]
    # when: the quorum-reaching approvals race
    results = race(
        *[
            lambda outflow=outflow, closer=closer: transfer_approve(transfer=outflow, actor=closer)
            for outflow, closer in zip(outflows, closers, strict=True)
        ],
        catch=ApplicationError,
    )
    # then: exactly one reserved; the other was refused and stays pending
    statuses = sorted(Transfer.objects.filter(pk__in=[o.pk for o in outflows]).values_list("status", flat=True))
    assert statuses == ["approved", "pending_approval"]
    assert sum(isinstance(result, ApplicationError) for result in results) == 1
    assert PendingTransaction.objects.filter(status="open").count() == 1
    assert account_balance(account=cold_wallet.ledger_account) == 100_000_000
    assert account_available_balance(account=cold_wallet.ledger_account) == 40_000_000
