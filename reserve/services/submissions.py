"""A transfer submitted in one step (as the API does): drafted and proposed in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reserve.models import Transfer
from reserve.services.transfers import transfer_create, transfer_propose


def transfer_submit(*, actor: Any, **fields: Any) -> Transfer:
    """Draft a transfer with `fields` (those of `transfer_create`) and propose it, or do nothing."""
    with transaction.atomic():
        draft = transfer_create(actor=actor, **fields)
        return transfer_propose(transfer=draft, actor=actor)
