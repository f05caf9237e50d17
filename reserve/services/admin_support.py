"""The two steps of the admin's transfer proposal, built from the transfer services: a dry run
that validates and judges a proposal without keeping anything, and the submit that drafts and
proposes it in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from policy.types import Decision
from reserve.models import Transfer, TransferStatus
from reserve.selectors import transfer_policy_preview
from reserve.services.transfers import transfer_create, transfer_propose


class _DryRunDone(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__("dry run finished")
        self.decision = decision


def transfer_dry_run(*, actor: Any, **fields: Any) -> Decision:
    """Validate a proposal exactly as `transfer_create` does and return the policy's decision on
    it, then roll back: nothing is stored, no lock outlives the call. `fields` are
    `transfer_create`'s keyword arguments; its errors (naming the field) propagate."""
    try:
        with transaction.atomic():
            draft = transfer_create(actor=actor, **fields)
            raise _DryRunDone(transfer_policy_preview(transfer=draft))
    except _DryRunDone as done:
        return done.decision


def transfer_submit(*, actor: Any, idempotency_key: str, **fields: Any) -> Transfer:
    """Draft and propose in one transaction. The key (one per proposal form) makes a repeated
    submit, such as a double click, return the transfer the first one proposed."""
    with transaction.atomic():
        draft = transfer_create(actor=actor, idempotency_key=idempotency_key, **fields)
        if draft.status != TransferStatus.DRAFT:
            return draft
        return transfer_propose(transfer=draft, actor=actor)
