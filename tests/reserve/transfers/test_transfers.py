# mypy: disable-error-code="union-attr,index"
"""Transfer lifecycles with ledger balances and audit events at each step; maker-checker and roles."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from config.errors import Conflict, PermissionDenied, ValidationFailed
from ledger.idempotency import request_hash
from ledger.models import Account, JournalTransaction, PendingStatus
from ledger.selectors import account_available_balance, account_balance
from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.transfers.drafts import DRAFT_FIELDS
from reserve.transfers.models import Approval, Transfer
from reserve.transfers.selectors import transfer_quorum_progress
from reserve.transfers.services import (
    transfer_approve,
    transfer_cancel,
    transfer_confirm,
    transfer_create,
    transfer_finalize,
    transfer_mark_broadcast,
    transfer_mark_failed,
    transfer_mark_reorged,
    transfer_propose,
    transfer_record_observed,
    transfer_reject,
)
from tests.reserve.conftest import REGTEST_EXTERNAL, block_time, fake_hash


def balance(code_or_wallet: str | Wallet) -> int:
    if isinstance(code_or_wallet, Wallet):
        return account_balance(account=code_or_wallet.ledger_account)
    return account_balance(account=Account.objects.get(code=code_or_wallet))


def actions(transfer: Transfer) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="reserve.transfer", object_id=str(transfer.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def approve_twice(transfer: Transfer, first: Any, second: Any) -> Transfer:
    transfer_approve(transfer=transfer, actor=first)
    return transfer_approve(transfer=transfer, actor=second, comment="checked the court order")


def confirm(transfer: Transfer, label: str, height: int, **extra: Any) -> Transfer:
    return transfer_confirm(
        transfer=transfer,
        txid=extra.pop("txid", fake_hash(f"{label}:tx")),
        vout=0,
        block_height=height,
        block_hash=fake_hash(f"{label}:block:{height}"),
        occurred_at=block_time(height % 24),
        **extra,
    )


def fund(wallet: Wallet, sats: int, operator: Any, approver: Any, approver2: Any, label: str = "funding") -> Transfer:
    transfer = transfer_create(
        actor=operator,
        direction="inbound",
        category="forfeiture",
        amount_sats=sats,
        destination_wallet=wallet,
        provenance_reference="Order 7",
    )
    transfer_propose(transfer=transfer, actor=operator)
    approve_twice(transfer, approver, approver2)
    return confirm(transfer, label, 1)


def test_inbound_lifecycle(operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet) -> None:
    # draft
    transfer = transfer_create(
        actor=operator,
        direction="inbound",
        category="forfeiture",
        amount_sats=250_000_000,
        destination_wallet=cold_wallet,
        provenance_reference="Final forfeiture order 2025-CR-0042",
    )
    assert (transfer.status, transfer.proposer) == ("draft", operator)
    # proposed: the policy preview and its default quorum are stored
    transfer = transfer_propose(transfer=transfer, actor=operator)
    assert transfer.status == "pending_approval"
    assert transfer.policy_preview["outcome"] == "needs_approval"
    assert (transfer.required_approvals, transfer.required_role) == (2, "approver")
    # one approval: still pending, nothing in the ledger
    transfer = transfer_approve(transfer=transfer, actor=approver)
    assert transfer.status == "pending_approval"
    assert transfer_quorum_progress(transfer=transfer).approvals == 1
    # quorum: approved; inbound reserves nothing
    transfer = transfer_approve(transfer=transfer, actor=approver2)
    assert (transfer.status, transfer.pending) == ("approved", None)
    assert balance(cold_wallet) == 0
    # confirmed on chain: wallet debited, acquisitions equity credited
    transfer = confirm(transfer, "in", 120)
    assert transfer.status == "confirmed"
    assert balance(cold_wallet) == 250_000_000
    assert balance("equity:acquisitions:forfeiture") == -250_000_000
    assert transfer.journal_transaction.block_height == 120
    # not deep enough yet, then final
    with pytest.raises(Conflict, match="5 confirmations"):
        transfer_finalize(transfer=transfer, tip_height=124)
    transfer = transfer_finalize(transfer=transfer, tip_height=125)
    assert transfer.status == "final"
    assert actions(transfer) == [
        "transfer.create",
        "transfer.propose",
        "transfer.approve",
        "transfer.approve",
        "transfer.confirm",
        "transfer.finalize",
    ]
    event = AuditEvent.objects.filter(object_id=str(transfer.pk), action="transfer.confirm").get()
    assert (event.before["status"], event.after["status"], event.actor_label) == ("approved", "confirmed", "system")


def test_outbound_lifecycle_with_reservation_fee_change_and_reorg(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    # given: 1 BTC in the wallet
    fund(cold_wallet, 100_000_000, operator, approver, approver2)
    transfer = transfer_create(
        actor=operator,
        direction="outbound",
        category="return_to_victims",
        amount_sats=30_000_000,
        fee_sats=5_000,
        source_wallet=cold_wallet,
        external_address=REGTEST_EXTERNAL,
        provenance_reference="Restitution order 9",
    )
    transfer_propose(transfer=transfer, actor=operator)
    # approved: amount + fee are reserved, the booked balance is unchanged
    transfer = approve_twice(transfer, approver, approver2)
    assert transfer.status == "approved"
    assert transfer.pending.status == PendingStatus.OPEN
    assert balance(cold_wallet) == 100_000_000
    assert account_available_balance(account=cold_wallet.ledger_account) == 100_000_000 - 30_005_000
    # broadcast
    transfer = transfer_mark_broadcast(transfer=transfer, actor=operator, txid=fake_hash("out:tx").upper())
    assert (transfer.status, transfer.txid) == ("broadcast", fake_hash("out:tx"))
    # confirmed with the fee actually paid (4 000): reservation posted with the final amounts
    transfer = confirm(transfer, "out", 130, txid=fake_hash("out:tx"), fee_sats=4_000)
    assert balance(cold_wallet) == 100_000_000 - 30_004_000
    assert account_available_balance(account=cold_wallet.ledger_account) == balance(cold_wallet)
    assert balance("equity:disposals:return_to_victims") == 30_000_000
    assert balance("expense:fees") == 4_000
    transfer.pending.refresh_from_db()
    assert transfer.pending.status == PendingStatus.POSTED
    # the block is dropped: the posting is reversed
    transfer = transfer_mark_reorged(transfer=transfer)
    assert transfer.status == "reorged"
    assert balance(cold_wallet) == 100_000_000
    assert balance("expense:fees") == 0
    assert transfer.reversal_transaction.reverses_id == transfer.journal_transaction_id
    # mined again in another block: posted afresh
    transfer = confirm(transfer, "out-again", 131, txid=fake_hash("out:tx"))
    assert (transfer.status, balance(cold_wallet)) == ("confirmed", 100_000_000 - 30_004_000)
    assert actions(transfer) == [
        "transfer.create",
        "transfer.propose",
        "transfer.approve",
        "transfer.approve",
        "transfer.broadcast",
        "transfer.confirm",
        "transfer.reorg",
        "transfer.confirm",
    ]


def test_internal_transfer_posts_both_wallets_and_the_fee(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given
    fund(cold_wallet, 50_000_000, operator, approver, approver2)
    transfer = transfer_create(
        actor=operator,
        direction="internal",
        category="internal_consolidation",
        amount_sats=20_000_000,
        fee_sats=1_000,
        source_wallet=cold_wallet,
        destination_wallet=vault_wallet,
    )
    transfer_propose(transfer=transfer, actor=operator)
    transfer = approve_twice(transfer, approver, approver2)
    assert account_available_balance(account=cold_wallet.ledger_account) == 50_000_000 - 20_001_000
    transfer_mark_broadcast(transfer=transfer, actor=operator, txid=fake_hash("int:tx"))
    # when
    transfer = confirm(transfer, "int", 140, txid=fake_hash("int:tx"))
    # then
    assert balance(cold_wallet) == 50_000_000 - 20_001_000
    assert balance(vault_wallet) == 20_000_000
    assert balance("expense:fees") == 1_000
    assert [e.amount_sats for e in transfer.journal_transaction.entries.order_by("amount_sats")] == [
        -20_001_000,
        1_000,
        20_000_000,
    ]


def test_the_proposer_can_never_approve(operator: Any, cold_wallet: Wallet) -> None:
    # given: the proposer also holds the approver role
    from django.contrib.auth.models import Group

    operator.groups.add(Group.objects.get(name="approver"))
    operator = type(operator).objects.get(pk=operator.pk)
    transfer = transfer_create(
        actor=operator, direction="inbound", category="donation", amount_sats=1_000, destination_wallet=cold_wallet
    )
    transfer_propose(transfer=transfer, actor=operator)
    # when / then
    with pytest.raises(PermissionDenied, match="proposer"):
        transfer_approve(transfer=transfer, actor=operator)
    with pytest.raises(PermissionDenied, match="proposer"):
        transfer_reject(transfer=transfer, actor=operator, comment="mine")
    assert not Approval.objects.exists()


def test_an_approver_approves_once(operator: Any, approver: Any, cold_wallet: Wallet) -> None:
    transfer = transfer_create(
        actor=operator, direction="inbound", category="donation", amount_sats=1_000, destination_wallet=cold_wallet
    )
    transfer_propose(transfer=transfer, actor=operator)
    transfer_approve(transfer=transfer, actor=approver)
    with pytest.raises(Conflict, match="already decided"):
        transfer_approve(transfer=transfer, actor=approver)
    assert Approval.objects.count() == 1
    assert Transfer.objects.get(pk=transfer.pk).status == "pending_approval"


def test_an_auditor_can_never_write(
    operator: Any, approver: Any, approver2: Any, auditor: Any, cold_wallet: Wallet
) -> None:
    # given: a transfer in each state an auditor might try to move
    draft = transfer_create(
        actor=operator, direction="inbound", category="donation", amount_sats=1_000, destination_wallet=cold_wallet
    )
    pending = transfer_create(
        actor=operator, direction="inbound", category="donation", amount_sats=2_000, destination_wallet=cold_wallet
    )
    transfer_propose(transfer=pending, actor=operator)
    attempts = [
        lambda: transfer_create(
            actor=auditor, direction="inbound", category="donation", amount_sats=1, destination_wallet=cold_wallet
        ),
        lambda: transfer_propose(transfer=draft, actor=auditor),
        lambda: transfer_approve(transfer=pending, actor=auditor),
        lambda: transfer_reject(transfer=pending, actor=auditor, comment="no"),
        lambda: transfer_cancel(transfer=pending, actor=auditor, reason="no"),
        lambda: transfer_mark_broadcast(transfer=pending, actor=auditor, txid=fake_hash("x")),
        lambda: confirm(pending, "aud", 5, actor=auditor),
        lambda: transfer_finalize(transfer=pending, tip_height=100, actor=auditor),
        lambda: transfer_record_observed(
            direction="inbound",
            amount_sats=5,
            txid=fake_hash("o"),
            vout=0,
            block_height=1,
            block_hash=fake_hash("b"),
            occurred_at=block_time(1),
            destination_wallet=cold_wallet,
            actor=auditor,
        ),
    ]
    events = AuditEvent.objects.count()
    # when / then
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert AuditEvent.objects.count() == events
    assert JournalTransaction.objects.count() == 0
    assert list(Transfer.objects.order_by("pk").values_list("status", flat=True)) == ["draft", "pending_approval"]


def test_reject_and_cancel_release_what_they_hold(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    fund(cold_wallet, 10_000_000, operator, approver, approver2)
    outbound: dict[str, Any] = {
        "direction": "outbound",
        "category": "sale",
        "fee_sats": 100,
        "source_wallet": cold_wallet,
        "external_address": REGTEST_EXTERNAL,
    }
    # rejected by one approver
    rejected = transfer_create(actor=operator, amount_sats=1_000_000, **outbound)
    transfer_propose(transfer=rejected, actor=operator)
    with pytest.raises(ValidationFailed):
        transfer_reject(transfer=rejected, actor=approver, comment=" ")
    rejected = transfer_reject(transfer=rejected, actor=approver, comment="sales are forbidden")
    assert (rejected.status, rejected.status_reason) == ("rejected", "sales are forbidden")
    # cancelled after approval: the reservation is voided
    cancelled = transfer_create(actor=operator, amount_sats=2_000_000, **outbound)
    transfer_propose(transfer=cancelled, actor=operator)
    cancelled = approve_twice(cancelled, approver, approver2)
    assert account_available_balance(account=cold_wallet.ledger_account) == 10_000_000 - 2_000_100
    cancelled = transfer_cancel(transfer=cancelled, actor=operator, reason="custodian unavailable")
    cancelled.pending.refresh_from_db()
    assert (cancelled.status, cancelled.pending.status) == ("cancelled", PendingStatus.VOIDED)
    assert account_available_balance(account=cold_wallet.ledger_account) == 10_000_000
    # failed after broadcast: same
    failed = transfer_create(actor=operator, amount_sats=3_000_000, **outbound)
    transfer_propose(transfer=failed, actor=operator)
    approve_twice(failed, approver, approver2)
    transfer_mark_broadcast(transfer=failed, actor=operator, txid=fake_hash("fail"))
    with pytest.raises(Conflict):
        transfer_cancel(transfer=failed, actor=operator, reason="too late")
    failed = transfer_mark_failed(transfer=failed, actor=operator, reason="double-spent by fee bump")
    assert failed.status == "failed"
    assert account_available_balance(account=cold_wallet.ledger_account) == 10_000_000
    assert balance(cold_wallet) == 10_000_000


def test_an_outflow_beyond_the_available_balance_cannot_be_proposed(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet
) -> None:
    fund(cold_wallet, 1_000, operator, approver, approver2)
    transfer = transfer_create(
        actor=operator,
        direction="outbound",
        category="sale",
        amount_sats=1_000,
        fee_sats=1,
        source_wallet=cold_wallet,
        external_address=REGTEST_EXTERNAL,
    )
    with pytest.raises(Conflict, match=r"Wallet cold-01 has 0\.00001000 BTC available"):
        transfer_propose(transfer=transfer, actor=operator)
    assert Transfer.objects.get(pk=transfer.pk).status == "draft"
    assert Approval.objects.filter(transfer=transfer).count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"direction": "outbound", "external_address": REGTEST_EXTERNAL}, "source_wallet", "leaves one of our wallets"),
        ({"direction": "outbound", "source": True}, "external_address", "destination address or a counterparty"),
        (
            {"direction": "outbound", "source": True, "external_address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
            "external_address",
            "this wallet is on regtest",
        ),
        ({"direction": "inbound", "amount_sats": 0}, "amount_sats", "greater than zero"),
        ({"direction": "inbound", "amount_sats": 21_000_000 * 10**8 + 1}, "amount_sats", "21,000,000"),
        ({"direction": "inbound", "category": "theft"}, "category", "must be an approved category"),
        ({"direction": "internal", "source": True}, "destination_wallet", "must differ"),
    ],
)
def test_bad_transfers_are_refused_naming_the_field(
    operator: Any, cold_wallet: Wallet, fields: dict[str, Any], field: str, message: str
) -> None:
    # "other" is allowed in every direction, so only the field under test is refused
    values: dict[str, Any] = {"category": "other", "amount_sats": 1_000}
    if fields.pop("source", False):
        values["source_wallet"] = cold_wallet
    if fields["direction"] in ("inbound", "internal"):
        values["destination_wallet"] = cold_wallet
    values.update(fields)
    with pytest.raises(ValidationFailed) as caught:
        transfer_create(actor=operator, **values)
    assert message in caught.value.fields[field][0]
    assert not Transfer.objects.exists()


def test_idempotent_create(operator: Any, cold_wallet: Wallet) -> None:
    fields: dict[str, Any] = {
        "direction": "inbound",
        "category": "donation",
        "amount_sats": 7,
        "destination_wallet": cold_wallet,
    }
    first = transfer_create(actor=operator, idempotency_key="k-1", **fields)
    assert transfer_create(actor=operator, idempotency_key="k-1", **fields).pk == first.pk
    with pytest.raises(Conflict):
        transfer_create(actor=operator, idempotency_key="k-1", **{**fields, "amount_sats": 8})
    assert Transfer.objects.count() == 1


def test_a_created_transfer_stores_the_ledgers_request_hash_of_its_draft(operator: Any, cold_wallet: Wallet) -> None:
    # when
    transfer = transfer_create(
        actor=operator,
        idempotency_key="k-hash",
        direction="inbound",
        category="donation",
        amount_sats=7,
        destination_wallet=cold_wallet,
        fiat_value=Decimal("12.50"),
        fiat_currency="USD",
        memo="Spende für die Reserve",
    )
    # then: the hash is ledger.idempotency's over the draft fields, wallets by id; a draft that
    # names no lots leaves them out (it hashes as drafts did before lots, so old keys replay)
    draft = {name: getattr(transfer, name) for name in DRAFT_FIELDS}
    assert draft.pop("lot_ids") == []
    assert transfer.request_hash == request_hash({name: getattr(value, "pk", value) for name, value in draft.items()})


def test_observed_inflow_is_booked_and_replays_are_ignored(cold_wallet: Wallet) -> None:
    # when: the scanner sees a payment nobody proposed
    observed: dict[str, Any] = {
        "direction": "inbound",
        "amount_sats": 12_345,
        "txid": fake_hash("gift"),
        "vout": 1,
        "block_height": 150,
        "block_hash": fake_hash("gift:block"),
        "occurred_at": block_time(3),
        "destination_wallet": cold_wallet,
        "category": "donation",
    }
    transfer, breaches = transfer_record_observed(**observed)
    # then
    assert (transfer.status, transfer.observed, transfer.proposer) == ("confirmed", True, None)
    assert balance(cold_wallet) == 12_345
    assert balance("equity:acquisitions:donation") == -12_345
    assert breaches == []
    assert actions(transfer) == ["transfer.observe"]
    # a second sighting of the same output changes nothing
    again, _ = transfer_record_observed(**observed)
    assert again.pk == transfer.pk
    assert balance(cold_wallet) == 12_345
    # a reorg drops it, and it is mined again in another block (no approvals needed: it was never proposed)
    transfer = transfer_mark_reorged(transfer=transfer)
    assert balance(cold_wallet) == 0
    transfer = confirm(transfer, "gift-again", 151, txid=fake_hash("gift"))
    assert (transfer.status, balance(cold_wallet)) == ("confirmed", 12_345)


def test_state_machine_refuses_skipping_steps(operator: Any, approver: Any, cold_wallet: Wallet) -> None:
    transfer = transfer_create(
        actor=operator, direction="inbound", category="donation", amount_sats=10, destination_wallet=cold_wallet
    )
    with pytest.raises(Conflict, match="it is draft"):
        transfer_approve(transfer=transfer, actor=approver)
    with pytest.raises(Conflict, match="it is draft"):
        confirm(transfer, "skip", 1)
    with pytest.raises(Conflict, match="it is draft"):
        transfer_mark_reorged(transfer=transfer)


@pytest.mark.django_db(transaction=True)
def test_database_refuses_self_approval_and_audit_edits(operator: Any, cold_wallet: Wallet) -> None:
    # given
    transfer = transfer_create(
        actor=operator, direction="inbound", category="donation", amount_sats=10, destination_wallet=cold_wallet
    )
    event = AuditEvent.objects.filter(action="transfer.create").get()
    # when / then: raw SQL that skips the services still cannot break the rules
    with pytest.raises(IntegrityError, match="cannot approve"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reserve_approval (transfer_id, approver_id, decision, comment, at) "
            "VALUES (%s, %s, 'approve', '', now())",
            [transfer.pk, operator.pk],
        )
    # the audit trail: the service role holds no UPDATE/DELETE; the owner meets the trigger
    refused = pytest.raises((IntegrityError, ProgrammingError), match=r"append-only|permission denied")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reserve_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    refused = pytest.raises((IntegrityError, ProgrammingError), match=r"append-only|permission denied")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM reserve_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reserve_transfer SET amount_sats = 0 WHERE id = %s", [transfer.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "transfer.create"
