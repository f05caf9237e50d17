"""The policy preview of a transfer, the one dry run behind the admin's proposal form, the API's
`/policy/dry-run/` and the stored transfer's "policy now": judged, never stored, never locked.
It also says whether the source wallet can pay (transfers/funds.py), as the proposal will."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from policy.models import PolicyVersion
from policy.selectors import policy_evaluate
from policy.types import Decision
from reserve.compliance.changes import transfer_change
from reserve.compliance.facts import ReservePolicyFacts
from reserve.transfers.drafts import transfer_build
from reserve.transfers.funds import with_funds_line
from reserve.transfers.models import Transfer


def transfer_policy_preview(
    *, transfer: Transfer, at: datetime | None = None, version: PolicyVersion | None = None
) -> Decision:
    """What the policies in force at `at` (the transfer's own time, else now), or one given version
    such as a draft, would decide on this transfer, saved or not; a wallet that cannot pay it
    adds a denying `available_balance` line."""
    decision = policy_evaluate(
        change=transfer_change(transfer, at=at),
        facts=ReservePolicyFacts(),
        versions=[version] if version is not None else None,
    )
    return with_funds_line(decision, transfer)


def transfer_dry_run(
    *, actor: Any, at: datetime | None = None, version: PolicyVersion | None = None, **fields: Any
) -> Decision:
    """Validate transfer fields exactly as a draft is validated (errors name the field) and return
    the policy's decision on them as if `actor` proposed them now (or at `at`)."""
    return transfer_policy_preview(transfer=transfer_build(proposer=actor, **fields), at=at, version=version)
