"""A transfer as the policy engine judges it: the proposed change with the approvals given so far."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from django.utils import timezone

from policy.types import ApprovalFact, Decision, ProposedChange
from reserve.access.roles import user_roles
from reserve.custody.selectors import membership_at
from reserve.transfers.models import (
    ApprovalDecision,
    Transfer,
)


def transfer_change(transfer: Transfer, *, at: datetime | None = None, observed: bool = False) -> ProposedChange:
    """The transfer as the policy engine judges it, with the approvals given so far."""
    approvals = (
        tuple(
            ApprovalFact(approver_id=approval.approver_id, roles=user_roles(approval.approver), approved_at=approval.at)
            for approval in transfer.approvals.select_related("approver").filter(decision=ApprovalDecision.APPROVE)
        )
        if transfer.pk
        else ()
    )
    source, destination = transfer.source_wallet, transfer.destination_wallet
    when = at or transfer.occurred_at or timezone.now()
    # Each end as the membership in force at the moment judged, not as its wallet row says today.
    then = membership_at(at=when, wallet_ids=[wallet.pk for wallet in (source, destination) if wallet])
    source_then = then.get(source.pk) if source else None
    destination_then = then.get(destination.pk) if destination else None
    return ProposedChange(
        direction=transfer.direction,
        category=transfer.category,
        amount_sats=transfer.amount_sats,
        fee_sats=transfer.fee_sats,
        at=when,
        source_wallet_id=source.pk if source else None,
        destination_wallet_id=destination.pk if destination else None,
        source_agency_id=source_then.agency_id if source_then else None,
        destination_agency_id=destination_then.agency_id if destination_then else None,
        source_in_perimeter=bool(source_then and source_then.in_perimeter),
        destination_in_perimeter=bool(destination_then and destination_then.in_perimeter),
        external_address=transfer.external_address,
        counterparty_id=transfer.counterparty_id,
        provenance_reference=transfer.provenance_reference,
        lot_ids=tuple(transfer.lot_ids),
        proposer_id=transfer.proposer_id,
        approvals=approvals,
        block_height=transfer.block_height,
        observed=observed,
        subject_type="reserve.transfer" if transfer.pk else "",
        subject_id=str(transfer.pk) if transfer.pk else "",
    )


def decision_json(decision: Decision) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(decision), default=str))
