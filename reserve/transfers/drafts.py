"""What a well-formed transfer is: every field a draft must satisfy, checked in one place for
creation and for previews, before anything is stored."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from config.errors import ValidationFailed
from ledger.amounts import MAX_SATS
from policy.selectors import category_check
from reserve.common.amounts import check_sats
from reserve.common.free_text import free_text_check
from reserve.compliance.lots import lots_choice_check
from reserve.custody.models import Counterparty, Wallet
from reserve.transfers.ends import transfer_ends_check
from reserve.transfers.models import Transfer, TransferDirection


def transfer_build(
    *,
    proposer: Any,
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
    fiat_value: Decimal | None = None,
    fiat_currency: str = "",
    lots: Sequence[int] = (),
) -> Transfer:
    """An unsaved draft with these fields, validated (errors name the field) and normalised."""
    if direction not in TransferDirection.values:
        raise ValidationFailed.for_field("direction", f"must be one of {', '.join(TransferDirection.values)}")
    category_check(category, direction=direction)
    check_sats(sats=amount_sats, field="amount_sats")
    check_sats(sats=fee_sats, field="fee_sats", allow_zero=True)
    if amount_sats + fee_sats > MAX_SATS:
        raise ValidationFailed.for_field("fee_sats", "amount and fee together exceed the 21,000,000 BTC supply")
    if direction == TransferDirection.INBOUND and fee_sats:
        raise ValidationFailed.for_field("fee_sats", "the sender pays the fee of an inbound transfer; leave it 0")
    address = transfer_ends_check(
        direction=direction,
        source_wallet=source_wallet,
        destination_wallet=destination_wallet,
        external_address=external_address,
        counterparty=counterparty,
    )
    if (fiat_value is None) != (not fiat_currency):
        raise ValidationFailed.for_field(
            "fiat_currency", "give both the fiat value and its ISO 4217 currency, or neither"
        )
    if fiat_currency and (len(fiat_currency) != 3 or not fiat_currency.isalpha() or not fiat_currency.isupper()):
        raise ValidationFailed.for_field("fiat_currency", "must be an ISO 4217 code such as USD")
    if fiat_value is not None and (not isinstance(fiat_value, Decimal) or fiat_value < 0):
        raise ValidationFailed.for_field("fiat_value", "must be a non-negative Decimal")
    lot_ids = lots_choice_check(
        wallet_id=source_wallet.pk if source_wallet is not None else None, sats=amount_sats + fee_sats, lot_ids=lots
    )
    draft = Transfer(
        lot_ids=lot_ids,
        direction=direction,
        category=category,
        amount_sats=amount_sats,
        fee_sats=fee_sats,
        source_wallet=source_wallet,
        destination_wallet=destination_wallet,
        external_address=address,
        counterparty=counterparty,
        provenance_reference=provenance_reference.strip(),
        memo=memo,
        fiat_value=fiat_value,
        fiat_currency=fiat_currency,
        proposer=proposer,
    )
    # The save would refuse a private key too; refusing here also keeps it out of the preview.
    free_text_check(draft)
    return draft


# The fields of a draft that its idempotency hash covers (what the client chose).
DRAFT_FIELDS = (
    "direction",
    "category",
    "amount_sats",
    "fee_sats",
    "source_wallet",
    "destination_wallet",
    "external_address",
    "counterparty",
    "provenance_reference",
    "memo",
    "fiat_value",
    "fiat_currency",
    "lot_ids",
)
