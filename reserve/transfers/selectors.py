"""Reads of transfers: the register, quorum progress, and what waits for one user's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from reserve.access.roles import user_roles
from reserve.custody.models import Wallet
from reserve.transfers.models import ApprovalDecision, InvoluntaryMark, InvoluntaryMarkStatus, Transfer, TransferStatus


def transfer_list(
    *,
    status: str | None = None,
    direction: str | None = None,
    category: str | None = None,
    wallet: Wallet | None = None,
    agency_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Transfer]:
    """The transfer register, newest first, filtered; times filter on `occurred_at`."""
    transfers = Transfer.objects.select_related("source_wallet", "destination_wallet", "counterparty", "proposer")
    if status:
        transfers = transfers.filter(status=status)
    if direction:
        transfers = transfers.filter(direction=direction)
    if category:
        transfers = transfers.filter(category=category)
    if wallet is not None:
        transfers = transfers.filter(source_wallet=wallet) | transfers.filter(destination_wallet=wallet)
    if agency_id is not None:
        transfers = transfers.filter(source_wallet__agency_id=agency_id) | transfers.filter(
            destination_wallet__agency_id=agency_id
        )
    if since is not None:
        transfers = transfers.filter(occurred_at__gte=since)
    if until is not None:
        transfers = transfers.filter(occurred_at__lt=until)
    return transfers.order_by("-id")


@dataclass(frozen=True)
class QuorumProgress:
    approvals: int
    required: int
    role: str
    approvers: list[str]
    rejected_by: str | None


def transfer_quorum_progress(*, transfer: Transfer) -> QuorumProgress:
    """Approvals that count (from holders of the required role) against the quorum stored at proposal."""
    decisions = list(transfer.approvals.select_related("approver"))
    counted = [
        approval.approver.get_username()
        for approval in decisions
        if approval.decision == ApprovalDecision.APPROVE and transfer.required_role in user_roles(approval.approver)
    ]
    rejected = next((a.approver.get_username() for a in decisions if a.decision == ApprovalDecision.REJECT), None)
    return QuorumProgress(
        approvals=len(counted),
        required=transfer.required_approvals,
        role=transfer.required_role,
        approvers=counted,
        rejected_by=rejected,
    )


def transfers_awaiting_decision(*, user: Any) -> QuerySet[Transfer]:
    """Pending transfers this user may still decide on: not their own, not already decided by them."""
    if not user.has_perm("reserve.approve_transfer"):
        return Transfer.objects.none()
    return (
        Transfer.objects.filter(status=TransferStatus.PENDING_APPROVAL)
        .exclude(proposer=user)
        .exclude(approvals__approver=user)
        .select_related("source_wallet", "destination_wallet", "counterparty", "proposer")
        .order_by("proposed_at", "id")
    )


def involuntary_mark_open(*, transfer: Transfer) -> InvoluntaryMark | None:
    """The mark of `transfer` waiting for a second person, if any (there is at most one)."""
    return (
        InvoluntaryMark.objects.select_related("proposed_by")
        .filter(transfer=transfer, status=InvoluntaryMarkStatus.PROPOSED)
        .first()
    )


def involuntary_marks_awaiting_decision(*, user: Any) -> QuerySet[InvoluntaryMark]:
    """Open involuntary marks this user may decide on: they hold reserve.approve_transfer and did not propose them."""
    if not user.has_perm("reserve.approve_transfer"):
        return InvoluntaryMark.objects.none()
    return (
        InvoluntaryMark.objects.select_related("transfer", "proposed_by")
        .filter(status=InvoluntaryMarkStatus.PROPOSED)
        .exclude(proposed_by=user)
        .order_by("proposed_at", "id")
    )
