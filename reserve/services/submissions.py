"""A transfer submitted in one step (as the API does): drafted and proposed in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reserve.models import Counterparty, Transfer, Wallet
from reserve.services.transfers import transfer_create, transfer_propose


def transfer_submit(
    *,
    actor: Any,
    direction: str,
    category: str,
    amount_sats: int,
    fee_sats: int = 0,
    source_wallet: Wallet | None = None,
    destination_wallet: Wallet | None = None,
    external_address: str = "",
    counterparty: Counterparty | None = None,
    provenance_reference: str = "",
    memo: str = "",
) -> Transfer:
    """Draft the transfer and propose it (the policy judges it at the proposal gate), or do nothing."""
    with transaction.atomic():
        draft = transfer_create(
            actor=actor,
            direction=direction,
            category=category,
            amount_sats=amount_sats,
            fee_sats=fee_sats,
            source_wallet=source_wallet,
            destination_wallet=destination_wallet,
            external_address=external_address,
            counterparty=counterparty,
            provenance_reference=provenance_reference,
            memo=memo,
        )
        return transfer_propose(transfer=draft, actor=actor)
