"""Marking an inflow involuntary, maker-checker: an operator proposes that an inflow nobody
proposed (seen on chain) be classed as dust, a donation or a fork, with the reason; it is
classed so only when another person holding reserve.approve_transfer approves. Rules exempt
involuntary inflows, so one person alone could otherwise hide a purchase from a cap. PostgreSQL
guards the same (reserve/sql/0120_involuntary_mark_approval.sql)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Conflict, NotFound, ValidationFailed
from policy.selectors import involuntary_category_codes
from reserve.access.roles import maker_checker_refusal, require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.common.amounts import btc_text
from reserve.notifications.services import approvers_notify
from reserve.transfers.models import InvoluntaryMark, InvoluntaryMarkStatus, Transfer, TransferDirection
from reserve.transfers.services import transfer_lock


def involuntary_markable(transfer: Transfer) -> bool:
    """Whether `transfer` may be classed involuntary: an inflow nobody proposed (seen on chain)."""
    return transfer.observed and transfer.direction == TransferDirection.INBOUND and transfer.proposer_id is None


def _markable_check(transfer: Transfer, category: str) -> None:
    """Refuse unless `transfer` may still be classed into `category` (checked when proposed and again when approved)."""
    if not involuntary_markable(transfer):
        raise Conflict.for_field("transfer", "only an inflow nobody proposed (seen on chain) can be marked")
    if InvoluntaryMark.objects.filter(transfer=transfer, status=InvoluntaryMarkStatus.APPROVED).exists():
        raise Conflict.for_field("transfer", f"is already marked {transfer.category}; its category is permanent")
    terms = involuntary_category_codes()
    if category not in terms:
        raise ValidationFailed.for_field(
            "category", f"must be an involuntary category in force: {', '.join(sorted(terms))}"
        )


def involuntary_mark_propose(*, transfer: Transfer, category: str, reason: str, actor: Any) -> InvoluntaryMark:
    """Propose classing `transfer` into the involuntary term `category`; the transfer keeps its
    category (and the rules judge it as before) until another person approves."""
    require_permission(actor, "execute_transfer", action="propose marking an inflow as involuntary")
    reason = reason.strip()
    with transaction.atomic():
        locked = transfer_lock(transfer)
        _markable_check(locked, category)
        if not reason:
            raise ValidationFailed.for_field("reason", "is required: why the inflow is involuntary")
        if InvoluntaryMark.objects.filter(transfer=locked, status=InvoluntaryMarkStatus.PROPOSED).exists():
            raise Conflict.for_field("transfer", "already has an open involuntary mark; decide it first")
        try:
            with transaction.atomic():
                mark = InvoluntaryMark.objects.create(
                    transfer=locked, category=category, reason=reason, proposed_by=actor, proposed_at=timezone.now()
                )
        except IntegrityError as error:  # a concurrent proposal won the unique index
            raise Conflict.for_field("transfer", "already has an open involuntary mark") from error
        audit_record(
            actor=actor, action="transfer.mark_involuntary.propose", instance=mark, before=None, after=snapshot(mark)
        )
        approvers_notify(
            kind="involuntary mark",
            instance=mark,
            summary=(
                f"Transfer {locked.pk}: {btc_text(locked.amount_sats)} BTC seen on chain, as {category} ({reason})"
            ),
            permission="reserve.approve_transfer",
            proposer=actor,
        )
    return mark


def involuntary_mark_decidable(*, mark: InvoluntaryMark, user: Any) -> bool:
    """Whether `user` may approve or reject the open `mark` (what the admin offers; the services
    below refuse the same): a holder of reserve.approve_transfer who did not propose it."""
    return (
        mark.status == InvoluntaryMarkStatus.PROPOSED
        and mark.proposed_by_id != user.pk
        and user.has_perm("reserve.approve_transfer")
    )


def _lock_open(mark: InvoluntaryMark) -> tuple[InvoluntaryMark, Transfer]:
    transfer = transfer_lock(mark.transfer)
    try:
        locked = InvoluntaryMark.objects.select_for_update().get(pk=mark.pk)
    except InvoluntaryMark.DoesNotExist:
        raise NotFound(f"involuntary mark {mark.pk} does not exist") from None
    if locked.status != InvoluntaryMarkStatus.PROPOSED:
        raise Conflict(
            f"involuntary mark {locked.pk} is {locked.status}, expected proposed",
            fields={"status": [f"is {locked.status}"]},
        )
    return locked, transfer


def _decide(mark: InvoluntaryMark, *, actor: Any, status: str, comment: str) -> InvoluntaryMark:
    before = snapshot(mark)
    mark.status = status
    mark.decided_by = actor
    mark.decided_at = timezone.now()
    mark.comment = comment.strip()
    mark.save()
    audit_record(
        actor=actor, action=f"transfer.mark_involuntary.{status}", instance=mark, before=before, after=snapshot(mark)
    )
    return mark


def involuntary_mark_approve(*, mark: InvoluntaryMark, actor: Any, comment: str = "") -> InvoluntaryMark:
    """The second person's approval: the transfer is classed into the proposed term from now on,
    if it is still markable and the term still an involuntary one in force."""
    require_permission(actor, "approve_transfer", action="approve marking an inflow as involuntary")
    with transaction.atomic():
        locked, transfer = _lock_open(mark)
        if locked.proposed_by_id == actor.pk:
            raise maker_checker_refusal(noun="involuntary mark", decision="approve", withdraw="reject it")
        _markable_check(transfer, locked.category)
        _decide(locked, actor=actor, status=InvoluntaryMarkStatus.APPROVED, comment=comment)
        before = snapshot(transfer)
        transfer.category = locked.category
        transfer.updated_at = timezone.now()
        transfer.save(update_fields=["category", "updated_at"])
        audit_record(
            actor=actor,
            action="transfer.mark_involuntary",
            instance=transfer,
            before=before,
            after=snapshot(transfer)
            | {"reason": locked.reason, "mark": locked.pk, "proposed_by": locked.proposed_by_id},
        )
    return locked


def involuntary_mark_reject(*, mark: InvoluntaryMark, actor: Any, comment: str = "") -> InvoluntaryMark:
    """An approver refuses the mark (the transfer keeps its category, and may be proposed again)."""
    require_permission(actor, "approve_transfer", action="reject marking an inflow as involuntary")
    with transaction.atomic():
        locked, _ = _lock_open(mark)
        if locked.proposed_by_id == actor.pk:
            raise maker_checker_refusal(noun="involuntary mark", decision="reject", withdraw="ask another approver")
        return _decide(locked, actor=actor, status=InvoluntaryMarkStatus.REJECTED, comment=comment)
