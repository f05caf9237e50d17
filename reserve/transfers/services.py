"""The life of a transfer, one service per transition: role and state checks, the policy gate,
the ledger posting where money moves, and an audit event, all in one database transaction.

draft -> pending_approval -> approved -> broadcast -> confirmed -> final, with the side exits
rejected, cancelled, failed and reorged. Ledger: an approved outbound/internal transfer
reserves amount + fee on its source wallet; confirmation posts (inbound: wallet against
equity:acquisitions:<category>; outbound: equity:disposals:<category> and expense:fees
against the wallet; internal: destination and fee against the source); a reorg reverses.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Conflict, NotFound, ValidationFailed
from ledger.idempotency import client_key_check, request_hash
from ledger.models import JournalTransaction
from ledger.services import (
    pending_create,
    pending_post,
    pending_void,
    post_transaction,
    reverse_transaction,
)
from policy.selectors import category_check
from policy.services import policy_detect, policy_enforce, policy_gated_transaction
from reserve.access.roles import require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.common.amounts import btc_text, check_sats
from reserve.common.settings import confirmation_depth, reporting_currency
from reserve.compliance.changes import decision_json, transfer_change
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.lots import transfer_lots_post, transfer_lots_reverse
from reserve.custody.models import Wallet
from reserve.notifications.services import approvers_notify
from reserve.pricing.selectors import value_sats_at
from reserve.transfers.accounting import transfer_ledger_entries
from reserve.transfers.coins import reservations_release
from reserve.transfers.drafts import DRAFT_FIELDS, transfer_build
from reserve.transfers.ends import transfer_ends_check
from reserve.transfers.funds import transfer_funds_check
from reserve.transfers.lifecycle import transition_check
from reserve.transfers.models import (
    Approval,
    ApprovalDecision,
    BuiltPsbt,
    PsbtStatus,
    Transfer,
    TransferDirection,
    TransferStatus,
)
from reserve.transfers.preview import transfer_policy_preview

# ---- helpers -------------------------------------------------------------------------------


def transfer_lock(transfer: Transfer) -> Transfer:
    """Re-read the transfer under a row lock: transitions of one transfer run one at a time."""
    try:
        return Transfer.objects.select_for_update(of=("self",)).get(pk=transfer.pk)
    except Transfer.DoesNotExist:
        raise NotFound(f"transfer {transfer.pk} does not exist") from None


def _save(transfer: Transfer, *, actor: Any, action: str, before: dict[str, Any], **extra: Any) -> Transfer:
    transfer.updated_at = timezone.now()
    transfer.save()
    audit_record(actor=actor, action=action, instance=transfer, before=before, after=snapshot(transfer) | extra)
    return transfer


def _require_actor_or_system(actor: Any, permission: str, *, action: str) -> None:
    # Chain-driven transitions are also made by scheduled jobs, which pass actor=None.
    if actor is not None:
        require_permission(actor, permission, action=action)


def _value_fiat(transfer: Transfer, *, at: datetime) -> None:
    if transfer.fiat_value is not None:
        return
    currency = reporting_currency()
    try:
        transfer.fiat_value = value_sats_at(sats=transfer.amount_sats, currency=currency, at=at)
        transfer.fiat_currency = currency
    except NotFound:
        # No quote in force: the valuation stays empty rather than invented.
        pass


# ---- transitions ---------------------------------------------------------------------------


def transfer_create(*, actor: Any, idempotency_key: str | None = None, **fields: Any) -> Transfer:
    """Draft a transfer from `transfer_build`'s fields (validated there, errors naming the
    field). With an idempotency key, a replay returns the first draft and a different payload
    under the same key is a Conflict."""
    require_permission(actor, "propose_transfer", action="draft a transfer")
    if idempotency_key:
        # A client's key: never one in the namespaces the services key their own records by.
        idempotency_key = client_key_check(idempotency_key, field="idempotency_key")
    draft = transfer_build(proposer=actor, **fields)
    fields = {name: getattr(draft, name) for name in DRAFT_FIELDS}
    # A draft that names no lots hashes as drafts did before lots were, so their keys still replay.
    digest = request_hash(
        {name: getattr(value, "pk", value) for name, value in fields.items() if name != "lot_ids" or value}
    )
    with transaction.atomic():
        if idempotency_key:
            existing = _replay(idempotency_key=idempotency_key, digest=digest)
            if existing is not None:
                return existing
        try:
            # A savepoint, so that losing an insert race on the key leaves the transaction usable.
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    **fields, proposer=actor, idempotency_key=idempotency_key or None, request_hash=digest
                )
        except IntegrityError:
            replayed = _replay(idempotency_key=idempotency_key, digest=digest) if idempotency_key else None
            if replayed is None:
                raise
            return replayed
        audit_record(actor=actor, action="transfer.create", instance=transfer, before=None, after=snapshot(transfer))
    return transfer


def _replay(*, idempotency_key: str, digest: str) -> Transfer | None:
    """The transfer first created under `idempotency_key`, if any; Conflict if its payload differs."""
    existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.request_hash != digest:
        raise Conflict(
            f"idempotency key {idempotency_key!r} was used for a different transfer",
            fields={"idempotency_key": ["already used with a different payload"]},
        )
    return existing


def transfer_propose(*, transfer: Transfer, actor: Any) -> Transfer:
    """draft -> pending_approval; the policy is judged at the "proposal" gate and its decision
    (with the quorum it asks for) is stored on the transfer. A proposal the policy denies is
    refused (PolicyDenied; the stored evaluation says why), and so is one its wallet cannot pay:
    either would wait for approvals it can never use."""
    require_permission(actor, "propose_transfer", action="propose a transfer")
    with policy_gated_transaction():
        locked = transfer_lock(transfer)
        transition_check(locked, "propose", actor=actor)
        transfer_funds_check(locked)
        before = snapshot(locked)
        decision = policy_enforce(change=transfer_change(locked), facts=ReservePolicyFacts(), gate="proposal")
        locked.policy_preview = decision_json(decision)
        locked.required_approvals = decision.required_approvals
        locked.required_role = decision.required_role
        locked.status = TransferStatus.PENDING_APPROVAL
        locked.proposed_at = timezone.now()
        saved = _save(locked, actor=actor, action="transfer.propose", before=before)
        approvers_notify(
            kind="transfer",
            instance=saved,
            summary=f"Transfer {saved.pk}: {saved.direction} {saved.category}, {btc_text(saved.amount_sats)} BTC",
            permission="reserve.approve_transfer",
            proposer=actor,
        )
        return saved


def _reserve(transfer: Transfer, *, actor: Any) -> None:
    """Hold amount + fee on the source wallet so concurrent proposals see it as spent."""
    transfer.pending = pending_create(
        idempotency_key=f"reserve:transfer:{transfer.pk}:reservation",
        entries=transfer_ledger_entries(transfer),
        kind=f"transfer_{transfer.direction}",
        memo=f"Reservation for transfer #{transfer.pk} ({transfer.category})",
        metadata={"transfer_id": transfer.pk},
        created_by=actor,
    )


def transfer_approve(*, transfer: Transfer, actor: Any, comment: str = "") -> Transfer:
    """Record an approval (never by the proposer, once per approver). At the quorum the
    policy allows ("approval" gate), the transfer becomes approved and, if money leaves a
    wallet, amount + fee are reserved in the ledger. A policy that now denies it refuses the
    approval (PolicyDenied, evaluation stored), as does a wallet that can no longer pay it."""
    require_permission(actor, "approve_transfer", action="approve a transfer")
    with policy_gated_transaction():
        locked = transfer_lock(transfer)
        transition_check(locked, "approve", actor=actor)
        before = snapshot(locked)
        approval = Approval.objects.create(
            transfer=locked, approver=actor, decision=ApprovalDecision.APPROVE, comment=comment
        )
        audit_record(actor=actor, action="approval.create", instance=approval, before=None, after=snapshot(approval))
        decision = policy_enforce(change=transfer_change(locked), facts=ReservePolicyFacts(), gate="approval")
        locked.required_approvals = decision.required_approvals
        locked.required_role = decision.required_role
        locked.policy_preview = decision_json(decision)
        if decision.outcome == "allow":
            transfer_funds_check(locked)
            locked.status = TransferStatus.APPROVED
            locked.approved_at = timezone.now()
            if locked.direction != TransferDirection.INBOUND:
                _reserve(locked, actor=actor)
        return _save(
            locked, actor=actor, action="transfer.approve", before=before, approvals=decision.approvals_counted
        )


def transfer_reject(*, transfer: Transfer, actor: Any, comment: str) -> Transfer:
    """pending_approval -> rejected by an approver (not the proposer), with the reason."""
    require_permission(actor, "approve_transfer", action="reject a transfer")
    if not comment.strip():
        raise ValidationFailed.for_field("comment", "say why the transfer is rejected")
    with transaction.atomic():
        locked = transfer_lock(transfer)
        transition_check(locked, "reject", actor=actor)
        before = snapshot(locked)
        approval = Approval.objects.create(
            transfer=locked, approver=actor, decision=ApprovalDecision.REJECT, comment=comment
        )
        audit_record(actor=actor, action="approval.create", instance=approval, before=None, after=snapshot(approval))
        locked.status = TransferStatus.REJECTED
        locked.status_reason = comment
        locked.closed_at = timezone.now()
        return _save(locked, actor=actor, action="transfer.reject", before=before)


def _release(transfer: Transfer, *, reason: str, actor: Any) -> None:
    if transfer.pending is not None:
        pending_void(pending=transfer.pending, reason=reason, created_by=actor)
    reservations_release(transfer=transfer, reason=reason)


def _close_unmined(
    transfer: Transfer, *, actor: Any, transition: str, action: str, status: str, reason: str, noun: str
) -> Transfer:
    """Close a transfer that was not mined (cancelled, failed) with its reason, giving back its
    reservation and voiding its pending posting."""
    with transaction.atomic():
        locked = transfer_lock(transfer)
        transition_check(locked, transition, actor=actor)
        before = snapshot(locked)
        _release(locked, reason=f"transfer {noun}: {reason}", actor=actor)
        locked.status = status
        locked.status_reason = reason
        locked.closed_at = timezone.now()
        return _save(locked, actor=actor, action=action, before=before)


def transfer_cancel(*, transfer: Transfer, actor: Any, reason: str) -> Transfer:
    """Withdraw a transfer before it is broadcast; an approved one gives its reservation back."""
    require_permission(actor, "propose_transfer", action="cancel a transfer")
    if not reason.strip():
        raise ValidationFailed.for_field("reason", "say why the transfer is cancelled")
    return _close_unmined(
        transfer,
        actor=actor,
        transition="cancel",
        action="transfer.cancel",
        status=TransferStatus.CANCELLED,
        reason=reason,
        noun="cancelled",
    )


def _check_txid(txid: str, *, field: str = "txid") -> str:
    value = txid.strip().lower()
    if len(value) != 64 or any(char not in "0123456789abcdef" for char in value):
        raise ValidationFailed.for_field(field, "must be 64 hexadecimal characters")
    return value


def transfer_mark_broadcast(*, transfer: Transfer, actor: Any, txid: str) -> Transfer:
    """approved -> broadcast: the transaction `txid` was sent, by the service (reserve/transfers/
    signing.py, actor None when a job recovers it) or by a custodian who signed elsewhere. A
    transfer whose PSBT the service built is broadcast only as that PSBT's txid."""
    _require_actor_or_system(actor, "execute_transfer", action="mark a transfer broadcast")
    txid = _check_txid(txid)
    with transaction.atomic():
        locked = transfer_lock(transfer)
        transition_check(locked, "mark_broadcast", actor=actor)
        built = BuiltPsbt.objects.filter(transfer=locked).exclude(status=PsbtStatus.SUPERSEDED).first()
        if built is not None and built.txid != txid:
            raise Conflict(
                f"transfer {locked.pk} has a PSBT committing to {built.txid}; {txid} is another transaction",
                fields={"txid": ["differs from the transaction built for this transfer"]},
            )
        before = snapshot(locked)
        locked.txid = txid
        locked.status = TransferStatus.BROADCAST
        locked.broadcast_at = timezone.now()
        return _save(locked, actor=actor, action="transfer.broadcast", before=before)


def transfer_mark_failed(*, transfer: Transfer, actor: Any, reason: str) -> Transfer:
    """approved/broadcast -> failed (never mined, double-spent, abandoned); the reservation is released."""
    _require_actor_or_system(actor, "execute_transfer", action="mark a transfer failed")
    if not reason.strip():
        raise ValidationFailed.for_field("reason", "say why the transfer failed")
    return _close_unmined(
        transfer,
        actor=actor,
        transition="mark_failed",
        action="transfer.fail",
        status=TransferStatus.FAILED,
        reason=reason,
        noun="failed",
    )


def _check_chain_fields(*, vout: int | None, block_height: int, block_hash: str, occurred_at: datetime) -> str:
    if vout is not None and (not isinstance(vout, int) or vout < 0):
        raise ValidationFailed.for_field("vout", "must be an output index >= 0")
    if not isinstance(block_height, int) or block_height < 0:
        raise ValidationFailed.for_field("block_height", "must be a block height >= 0")
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        raise ValidationFailed.for_field("occurred_at", "must be a timezone-aware datetime (the block time)")
    return _check_txid(block_hash, field="block_hash")


def transfer_confirm(
    *,
    transfer: Transfer,
    txid: str,
    vout: int | None,
    block_height: int,
    block_hash: str,
    occurred_at: datetime,
    fee_sats: int | None = None,
    actor: Any = None,
) -> Transfer:
    """The chain mined it: post to the ledger under the "posting" policy gate, atomically.

    From approved or broadcast (or reorged, when the transaction is mined again). A refused
    posting raises PolicyDenied and changes nothing but the stored evaluation. `fee_sats`
    is the fee actually paid, when it differs from the proposal.
    """
    _require_actor_or_system(actor, "execute_transfer", action="confirm a transfer")
    txid = _check_txid(txid)
    block_hash = _check_chain_fields(
        vout=vout, block_height=block_height, block_hash=block_hash, occurred_at=occurred_at
    )
    if fee_sats is not None:
        check_sats(sats=fee_sats, field="fee_sats", allow_zero=True)
    with policy_gated_transaction():
        locked = transfer_lock(transfer)
        if (
            locked.status in (TransferStatus.CONFIRMED, TransferStatus.FINAL)
            and locked.txid == txid
            and (locked.block_hash == block_hash)
        ):
            return locked  # the scanner saw the same block again
        transition_check(locked, "confirm", actor=actor)
        if locked.txid and locked.txid != txid:
            raise Conflict(f"transfer was broadcast as {locked.txid}, not {txid}", fields={"txid": ["differs"]})
        before = snapshot(locked)
        if fee_sats is not None and locked.direction != TransferDirection.INBOUND:
            locked.fee_sats = fee_sats
        locked.txid, locked.vout = txid, vout
        locked.block_height, locked.block_hash, locked.occurred_at = block_height, block_hash, occurred_at
        if not locked.observed:
            # An observed movement (re-mined after a reorg) was never proposed: it is judged
            # after the fact below, not gated.
            policy_enforce(change=transfer_change(locked), facts=ReservePolicyFacts(), gate="posting")
        key = f"reserve:transfer:{locked.pk}:confirm:{block_hash}"
        if locked.pending is not None and locked.status != TransferStatus.REORGED:
            journal = pending_post(
                pending=locked.pending,
                idempotency_key=key,
                entries=transfer_ledger_entries(locked),
                created_by=actor,
                occurred_at=occurred_at,
                block_height=block_height,
                block_hash=block_hash,
                txid=txid,
            )
        else:
            journal = post_transaction(
                idempotency_key=key,
                entries=transfer_ledger_entries(locked),
                kind=f"transfer_{locked.direction}",
                memo=f"Transfer #{locked.pk} ({locked.category})",
                metadata={"transfer_id": locked.pk},
                created_by=actor,
                occurred_at=occurred_at,
                block_height=block_height,
                block_hash=block_hash,
                txid=txid,
            )
        transfer_lots_post(locked, journal=journal)
        locked.journal_transaction = journal
        locked.reversal_transaction = None
        locked.status = TransferStatus.CONFIRMED
        locked.confirmed_at = timezone.now()
        _value_fiat(locked, at=occurred_at)
        _save(locked, actor=actor, action="transfer.confirm", before=before, journal_sequence=journal.sequence)
        if locked.observed:
            policy_detect(change=transfer_change(locked, observed=True), facts=ReservePolicyFacts())
        return locked


def transfer_finalize(*, transfer: Transfer, tip_height: int, actor: Any = None) -> Transfer:
    """confirmed -> final once the block is buried confirmation_depth() deep (reserve/common/settings.py)."""
    _require_actor_or_system(actor, "execute_transfer", action="finalize a transfer")
    with transaction.atomic():
        locked = transfer_lock(transfer)
        transition_check(locked, "finalize", actor=actor)
        assert locked.block_height is not None
        confirmations, depth = tip_height - locked.block_height + 1, confirmation_depth()
        if confirmations < depth:
            raise Conflict(
                f"transfer has {confirmations} confirmations; {depth} are needed",
                fields={"tip_height": [f"{confirmations} confirmations"]},
            )
        before = snapshot(locked)
        reservations_release(transfer=locked, reason=f"final at {confirmations} confirmations")
        locked.status = TransferStatus.FINAL
        locked.finalized_at = timezone.now()
        return _save(locked, actor=actor, action="transfer.finalize", before=before, confirmations=confirmations)


def transfer_mark_reorged(
    *, transfer: Transfer, actor: Any = None, reason: str = "block left the best chain"
) -> Transfer:
    """confirmed/final -> reorged: the block was dropped, so the posting is reversed and the
    continuous policy rules are re-checked (detective mode)."""
    _require_actor_or_system(actor, "execute_transfer", action="mark a transfer reorged")
    with transaction.atomic():
        locked = transfer_lock(transfer)
        transition_check(locked, "mark_reorged", actor=actor)
        journal = locked.journal_transaction
        assert isinstance(journal, JournalTransaction)
        before = snapshot(locked)
        locked.reversal_transaction = reverse_transaction(
            transaction=journal,
            idempotency_key=f"reserve:transfer:{locked.pk}:reorg:{journal.sequence}",
            memo=f"Reorg: transfer #{locked.pk} left the best chain",
            created_by=actor,
        )
        transfer_lots_reverse(locked, journal=journal, reversal=locked.reversal_transaction)
        locked.status = TransferStatus.REORGED
        locked.status_reason = reason
        locked.closed_at = timezone.now()
        _save(locked, actor=actor, action="transfer.reorg", before=before)
        policy_detect(change=transfer_change(locked, at=timezone.now()), facts=ReservePolicyFacts())
    return locked


def transfer_record_observed(
    *,
    direction: str,
    amount_sats: int,
    txid: str,
    vout: int | None,
    block_height: int,
    block_hash: str,
    occurred_at: datetime,
    source_wallet: Wallet | None = None,
    destination_wallet: Wallet | None = None,
    external_address: str = "",
    fee_sats: int = 0,
    category: str = "other",
    actor: Any = None,
) -> tuple[Transfer, list[Any]]:
    """A movement nobody proposed, seen on chain: book it as an observed, confirmed transfer
    and hand it to the policy's detective mode. Returns (transfer, breaches). Replaying the
    same (txid, vout, direction, wallets) returns the recorded transfer."""
    _require_actor_or_system(actor, "execute_transfer", action="record an observed movement")
    if direction not in TransferDirection.values:
        raise ValidationFailed.for_field("direction", f"must be one of {', '.join(TransferDirection.values)}")
    category_check(category, direction=direction)
    check_sats(sats=amount_sats, field="amount_sats")
    check_sats(sats=fee_sats, field="fee_sats", allow_zero=True)
    txid = _check_txid(txid)
    block_hash = _check_chain_fields(
        vout=vout, block_height=block_height, block_hash=block_hash, occurred_at=occurred_at
    )
    if direction == TransferDirection.OUTBOUND and not external_address.strip():
        raise ValidationFailed.for_field("external_address", "an observed outflow names the address it paid")
    address = transfer_ends_check(
        direction=direction,
        source_wallet=source_wallet,
        destination_wallet=destination_wallet,
        external_address=external_address,
        counterparty=None,
    )
    base_key = "observed:{}:{}:{}:{}:{}".format(
        txid, vout, direction, getattr(source_wallet, "pk", ""), getattr(destination_wallet, "pk", "")
    )
    digest = request_hash(
        _observed_payload(
            direction=direction,
            amount_sats=amount_sats,
            txid=txid,
            vout=vout,
            source_wallet_id=getattr(source_wallet, "pk", None),
            destination_wallet_id=getattr(destination_wallet, "pk", None),
            external_address=address,
            observed=True,
        )
    )
    with transaction.atomic():
        key, squatters = base_key, []
        # A replay is one whose payload is this movement's. A row under the key with another
        # payload (a client's draft that took the key before client keys were fenced off) does
        # not swallow the movement: it is booked under the next key, and the clash is recorded.
        while (existing := Transfer.objects.filter(idempotency_key=key).first()) is not None:
            if _observed_digest(existing) == digest:
                return existing, []
            if existing.observed:
                # The service's own record of this output says something else: not a replay,
                # and not to be booked twice. Reconciliation reports it as a discrepancy.
                raise Conflict(
                    f"observed transfer #{existing.pk} recorded {key!r} with another payload",
                    fields={"idempotency_key": ["already used with a different payload"]},
                )
            squatters.append(existing)
            key = f"{base_key}:after:{existing.pk}"
        try:
            # Two scans (one per wallet of an internal movement) may race to record it.
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    direction=direction,
                    category=category,
                    amount_sats=amount_sats,
                    fee_sats=0 if direction == TransferDirection.INBOUND else fee_sats,
                    source_wallet=source_wallet,
                    destination_wallet=destination_wallet,
                    external_address=address,
                    status=TransferStatus.BROADCAST,
                    status_reason=_squat_reason(base_key, squatters),
                    observed=True,
                    txid=txid,
                    vout=vout,
                    block_height=block_height,
                    block_hash=block_hash,
                    occurred_at=occurred_at,
                    idempotency_key=key,
                    request_hash=digest,
                )
        except IntegrityError:
            raced = Transfer.objects.get(idempotency_key=key)
            if _observed_digest(raced) != digest:
                raise Conflict(
                    f"the key {key!r} of an observed movement was taken by transfer #{raced.pk} with another payload",
                    fields={"idempotency_key": ["already used with a different payload"]},
                ) from None
            return raced, []
        for squatter in squatters:
            audit_record(
                actor=actor,
                action="transfer.observe.key_conflict",
                instance=transfer,
                before=None,
                after={"key": base_key, "held_by_transfer": squatter.pk, "booked_under": key},
            )
        journal = post_transaction(
            idempotency_key=f"reserve:transfer:{transfer.pk}:observed:{block_hash}",
            entries=transfer_ledger_entries(transfer),
            kind=f"observed_{direction}",
            memo=f"Observed on chain, not proposed: transfer #{transfer.pk}",
            occurred_at=occurred_at,
            block_height=block_height,
            block_hash=block_hash,
            txid=txid,
            metadata={"transfer_id": transfer.pk, "observed": True},
            created_by=actor,
        )
        transfer_lots_post(transfer, journal=journal)
        transfer.journal_transaction = journal
        transfer.status = TransferStatus.CONFIRMED
        transfer.confirmed_at = timezone.now()
        _value_fiat(transfer, at=occurred_at)
        transfer.save()
        audit_record(actor=actor, action="transfer.observe", instance=transfer, before=None, after=snapshot(transfer))
        breaches = policy_detect(change=transfer_change(transfer, observed=True), facts=ReservePolicyFacts())
    return transfer, breaches


def transfer_detect_mismatch(
    *, transfer: Transfer, paid_sats: int, block_height: int, occurred_at: datetime, discrepancy_id: int
) -> list[Any]:
    """The chain paid `transfer`'s destination another amount than approved (a transaction signed
    elsewhere, marked broadcast with its txid): what left was approved by nobody, so the policy's
    detective mode judges it as an unproposed movement. The breaches name the discrepancy that
    reports it (one per discrepancy and rule, so a re-scan opens nothing new)."""
    change = dataclasses.replace(
        transfer_change(transfer, at=occurred_at, observed=True),
        amount_sats=paid_sats,
        proposer_id=None,
        approvals=(),
        block_height=block_height,
        subject_type="reserve.discrepancy",
        subject_id=str(discrepancy_id),
    )
    return policy_detect(change=change, facts=ReservePolicyFacts())


def _observed_payload(
    *,
    direction: str,
    amount_sats: int,
    txid: str,
    vout: int | None,
    source_wallet_id: int | None,
    destination_wallet_id: int | None,
    external_address: str,
    observed: bool,
) -> dict[str, Any]:
    """What makes two records of an observed movement the same movement (the block may differ:
    a movement mined again after a reorg is the same movement)."""
    return {
        "direction": direction,
        "amount_sats": amount_sats,
        "txid": txid,
        "vout": vout,
        "source_wallet": source_wallet_id,
        "destination_wallet": destination_wallet_id,
        "external_address": external_address,
        "observed": observed,
    }


def _observed_digest(transfer: Transfer) -> str:
    """The request hash of an observed movement, recomputed from the stored row (rows recorded
    before the hash was stored compare the same way)."""
    return request_hash(
        _observed_payload(
            direction=transfer.direction,
            amount_sats=transfer.amount_sats,
            txid=transfer.txid,
            vout=transfer.vout,
            source_wallet_id=transfer.source_wallet_id,
            destination_wallet_id=transfer.destination_wallet_id,
            external_address=transfer.external_address,
            observed=transfer.observed,
        )
    )


# How an observed transfer says that its key was held by another record (reconciliation repeats it
# on the discrepancy it opens).
KEY_CONFLICT = "idempotency key conflict"


def _squat_reason(key: str, squatters: list[Transfer]) -> str:
    if not squatters:
        return ""
    held = ", ".join(f"#{squatter.pk}" for squatter in squatters)
    return f"{KEY_CONFLICT}: {key!r} was held by transfer {held} with another payload"


def transfer_submit(*, actor: Any, idempotency_key: str | None = None, **fields: Any) -> Transfer:
    """Draft the transfer and propose it (the policy judges it at the proposal gate), or do nothing.

    `fields` are `transfer_create`'s keyword arguments. With a key (one per proposal form), a
    repeated submit, such as a double click, returns the transfer the first one proposed. A refused
    proposal keeps nothing but the policy's evaluation (see `transfer_propose`), and takes no
    transfer id: it is refused before the draft is numbered, so the register has no gaps."""
    require_permission(actor, "propose_transfer", action="propose a transfer")
    with policy_gated_transaction():
        replay = bool(idempotency_key) and Transfer.objects.filter(idempotency_key=idempotency_key).exists()
        if not replay:
            _refuse_unnumbered(transfer_build(proposer=actor, **fields))
        draft = transfer_create(actor=actor, idempotency_key=idempotency_key, **fields)
        if draft.status != TransferStatus.DRAFT:
            return draft
        return transfer_propose(transfer=draft, actor=actor)


def _refuse_unnumbered(draft: Transfer) -> None:
    """Refuse, before it is saved, a draft its proposal would refuse (the preview says so): with the
    funds check's Conflict or the proposal gate's PolicyDenied, whose evaluation (of no stored
    transfer) is recorded after the rollback. A draft the preview allows is judged again, stored."""
    if transfer_policy_preview(transfer=draft).outcome != "deny":
        return
    transfer_funds_check(draft)
    policy_enforce(change=transfer_change(draft), facts=ReservePolicyFacts(), gate="proposal")
