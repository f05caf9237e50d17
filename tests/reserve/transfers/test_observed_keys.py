"""Way 5 of issue 11 in the services: the key of an observed chain movement cannot be squatted.

A client can no longer draft under a reserved key; a key squatted before that fence existed (a
draft inserted directly under `observed:<txid>:...`, as an old client could) does not swallow the
movement: it is booked and posted, the clash is written on it and in the audit trail, and a
rescan replays the booked movement, not the decoy."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import Conflict, ValidationFailed
from ledger.idempotency import RESERVED_PREFIXES
from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from reserve.transfers.services import KEY_CONFLICT, transfer_create, transfer_record_observed, transfer_submit
from tests.reserve.conftest import block_time, fake_hash

pytestmark = pytest.mark.django_db

TXID = fake_hash("the real donation")


def observe(wallet: Wallet, amount_sats: int = 1_500_000) -> tuple[Transfer, list[Any]]:
    return transfer_record_observed(
        direction="inbound",
        amount_sats=amount_sats,
        txid=TXID,
        vout=0,
        block_height=7,
        block_hash=fake_hash("block 7"),
        occurred_at=block_time(7),
        destination_wallet=wallet,
    )


def draft(wallet: Wallet) -> dict[str, Any]:
    return {"direction": "inbound", "category": "donation", "amount_sats": 1, "destination_wallet": wallet}


@pytest.mark.parametrize("key", [f"observed:{TXID}:0:inbound::1", *RESERVED_PREFIXES, "Reserve:transfer:1:confirm"])
def test_a_client_draft_under_a_reserved_key_is_refused_and_stores_nothing(
    operator: Any, cold_wallet: Wallet, key: str
) -> None:
    events = AuditEvent.objects.count()
    for service in (transfer_create, transfer_submit):
        with pytest.raises(ValidationFailed) as caught:
            service(actor=operator, idempotency_key=key, **draft(cold_wallet))
        assert list(caught.value.fields) == ["idempotency_key"]
    assert not Transfer.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_key_squatted_before_the_fence_does_not_swallow_the_observed_movement(
    operator: Any, cold_wallet: Wallet
) -> None:
    # given: a decoy draft holding the movement's key, inserted as an old client could have
    key = f"observed:{TXID}:0:inbound::{cold_wallet.pk}"
    decoy = Transfer.objects.create(proposer=operator, idempotency_key=key, request_hash="0" * 64, **draft(cold_wallet))
    # when: reconciliation books the real movement
    booked, _breaches = observe(cold_wallet)
    # then: it is booked and posted under the next key, and the clash is on record
    assert booked.pk != decoy.pk
    assert (booked.observed, booked.status, booked.amount_sats, booked.txid) == (True, "confirmed", 1_500_000, TXID)
    assert booked.idempotency_key == f"{key}:after:{decoy.pk}"
    assert booked.status_reason.startswith(KEY_CONFLICT) and f"#{decoy.pk}" in booked.status_reason
    assert JournalTransaction.objects.filter(txid=TXID).count() == 1
    assert account_balance(account=cold_wallet.ledger_account) == 1_500_000
    conflict = AuditEvent.objects.get(action="transfer.observe.key_conflict")
    assert conflict.after is not None
    assert (conflict.object_id, conflict.after["held_by_transfer"]) == (str(booked.pk), decoy.pk)
    # and the decoy is untouched
    decoy.refresh_from_db()
    assert (decoy.status, decoy.amount_sats, decoy.observed) == ("draft", 1, False)
    # when: the scanner sees the block again
    again, again_breaches = observe(cold_wallet)
    # then: it replays the booked movement and posts nothing new
    assert (again.pk, again_breaches) == (booked.pk, [])
    assert JournalTransaction.objects.filter(txid=TXID).count() == 1
    assert Transfer.objects.count() == 2


def test_a_replay_compares_the_payload_not_only_the_key(cold_wallet: Wallet) -> None:
    # given: the movement was booked
    first, _ = observe(cold_wallet)
    assert first.request_hash
    journals = JournalTransaction.objects.count()
    # when: the same key arrives with another amount (not a replay of that movement)
    with pytest.raises(Conflict) as caught:
        observe(cold_wallet, amount_sats=2_000_000)
    # then: a conflict, never the first taken for it, and nothing booked twice
    assert list(caught.value.fields) == ["idempotency_key"]
    assert list(Transfer.objects.values_list("pk", "amount_sats")) == [(first.pk, 1_500_000)]
    assert JournalTransaction.objects.count() == journals


def test_a_movement_recorded_before_hashes_were_stored_still_replays(cold_wallet: Wallet) -> None:
    # given: an observed movement booked by the old code (no request hash on the row)
    first, _ = observe(cold_wallet)
    Transfer.objects.filter(pk=first.pk).update(request_hash="")
    # when
    again, _ = observe(cold_wallet)
    # then
    assert again.pk == first.pk
    assert JournalTransaction.objects.filter(txid=TXID).count() == 1
