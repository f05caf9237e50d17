"""A transfer submitted in one step (as the API and the admin's proposal form do): drafted and
proposed in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reserve.models import Transfer, TransferStatus
from reserve.services.transfers import transfer_create, transfer_propose


def transfer_submit(*, actor: Any, idempotency_key: str | None = None, **fields: Any) -> Transfer:
    """Draft the transfer and propose it (the policy judges it at the proposal gate), or do nothing.

    `fields` are `transfer_create`'s keyword arguments. With a key (one per proposal form), a
    repeated submit, such as a double click, returns the transfer the first one proposed."""
    with transaction.atomic():
        draft = transfer_create(actor=actor, idempotency_key=idempotency_key, **fields)
        if draft.status != TransferStatus.DRAFT:
            return draft
        return transfer_propose(transfer=draft, actor=actor)
