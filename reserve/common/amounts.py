"""Bitcoin amounts as whole satoshis: parsing operator input within the bounds of ledger.amounts."""

from __future__ import annotations

from decimal import Decimal

from config.errors import ValidationFailed
from ledger.amounts import MAX_SATS, SATS_PER_BTC
from ledger.numerals import is_decimal


def btc_to_sats(*, value: str | Decimal, field: str, allow_zero: bool = False) -> int:
    """Parse "0.1" (BTC) into 10_000_000 sats; more than 8 decimals, floats or junk are refused."""
    if isinstance(value, float):
        # A float has already lost the exact decimal the operator typed.
        raise ValidationFailed.for_field(field, "give BTC amounts as text or Decimal, never as a float")
    text = str(value).strip()
    if (isinstance(value, Decimal) and not value.is_finite()) or (
        not isinstance(value, Decimal) and not is_decimal(text)
    ):
        raise ValidationFailed.for_field(field, f"{text!r} is not a BTC amount such as 0.1")
    amount = Decimal(text)
    if abs(amount) > MAX_SATS // SATS_PER_BTC:
        # Checked before scaling to sats: "1E+999999" would overflow the decimal context.
        raise ValidationFailed.for_field(field, "exceeds the 21,000,000 BTC supply")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        raise ValidationFailed.for_field(field, f"{text} has more than 8 decimal places (1 sat = 0.00000001 BTC)")
    return check_sats(sats=int(amount * SATS_PER_BTC), field=field, allow_zero=allow_zero)


def check_sats(*, sats: int, field: str, allow_zero: bool = False) -> int:
    """Refuse an amount outside (0, 21e6 BTC], or [0, 21e6 BTC] when zero is allowed (fees)."""
    if isinstance(sats, bool) or not isinstance(sats, int):
        raise ValidationFailed.for_field(field, "must be a whole number of satoshis")
    if sats < 0 or (sats == 0 and not allow_zero):
        raise ValidationFailed.for_field(
            field, "must be greater than zero" if not allow_zero else "must not be negative"
        )
    if sats > MAX_SATS:
        raise ValidationFailed.for_field(field, "exceeds the 21,000,000 BTC supply")
    return sats


def sats_to_btc(sats: int) -> Decimal:
    return (Decimal(sats) / SATS_PER_BTC).quantize(Decimal("0.00000001"))


def btc_text(sats: int) -> str:
    """Sats as a BTC string with exactly 8 decimals ("0.00000000", never "0E-8"): how every
    `*_btc` field, JSON or CSV, states an amount."""
    return f"{sats_to_btc(sats):.8f}"
