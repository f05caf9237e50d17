"""Fiat value of bitcoin amounts at the price quote in force (the latest quote at or before a time)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from config.errors import NotFound, ValidationFailed
from ledger.amounts import SATS_PER_BTC
from reserve.pricing.models import PriceQuote

CENT = Decimal("0.01")


def price_in_force(*, currency: str, at: datetime) -> PriceQuote:
    """The latest quote for `currency` at or before `at`; among quotes at the same instant, the last imported."""
    if at.tzinfo is None:
        raise ValidationFailed.for_field("at", "must be timezone-aware")
    quote = PriceQuote.objects.filter(currency=currency.upper(), at__lte=at).order_by("-at", "-id").first()
    if quote is None:
        raise NotFound(
            f"no {currency.upper()} price quote at or before {at.isoformat()}",
            fields={"currency": ["no quote in force"]},
        )
    return quote


def value_sats_at(*, sats: int, currency: str, at: datetime) -> Decimal:
    """`sats` valued in `currency` at the quote in force at `at`, rounded half-even to the cent."""
    return value_sats(sats=sats, quote=price_in_force(currency=currency, at=at))


def value_sats(*, sats: int, quote: PriceQuote) -> Decimal:
    """`sats` valued at `quote`, rounded half-even to the cent: the one valuation every report uses."""
    return (Decimal(sats) * quote.price / SATS_PER_BTC).quantize(CENT, rounding=ROUND_HALF_EVEN)
