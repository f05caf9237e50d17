"""Which ends a transfer of each direction has: source wallet, destination wallet, outside address or counterparty."""

from __future__ import annotations

from config.errors import ValidationFailed
from reserve.custody.addresses import parse_address
from reserve.custody.models import Counterparty, Wallet
from reserve.transfers.models import TransferDirection


def transfer_ends_check(
    *,
    direction: str,
    source_wallet: Wallet | None,
    destination_wallet: Wallet | None,
    external_address: str,
    counterparty: Counterparty | None,
) -> str:
    """Check which ends a direction has; return the normalised external address."""
    if direction == TransferDirection.INBOUND:
        if destination_wallet is None:
            raise ValidationFailed.for_field("destination_wallet", "an inbound transfer lands in one of our wallets")
        if source_wallet is not None:
            raise ValidationFailed.for_field("source_wallet", "an inbound transfer comes from outside; use internal")
        network = destination_wallet.network
    elif direction == TransferDirection.OUTBOUND:
        if source_wallet is None:
            raise ValidationFailed.for_field("source_wallet", "an outbound transfer leaves one of our wallets")
        if destination_wallet is not None:
            raise ValidationFailed.for_field("destination_wallet", "an outbound transfer goes outside; use internal")
        if not external_address.strip() and counterparty is None:
            raise ValidationFailed.for_field("external_address", "give the destination address or a counterparty")
        network = source_wallet.network
    else:
        if source_wallet is None:
            raise ValidationFailed.for_field("source_wallet", "an internal transfer needs a source wallet")
        if destination_wallet is None:
            raise ValidationFailed.for_field("destination_wallet", "an internal transfer needs a destination wallet")
        if source_wallet.pk == destination_wallet.pk:
            raise ValidationFailed.for_field("destination_wallet", "must differ from the source wallet")
        if source_wallet.network != destination_wallet.network:
            raise ValidationFailed.for_field(
                "destination_wallet", f"is on {destination_wallet.network}, the source on {source_wallet.network}"
            )
        if external_address.strip() or counterparty is not None:
            raise ValidationFailed.for_field("external_address", "an internal transfer has no outside party")
        return ""
    if external_address.strip():
        return parse_address(address=external_address, network=network, field="external_address").address
    return ""
