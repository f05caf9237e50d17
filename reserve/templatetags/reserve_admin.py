"""Satoshi amounts as the admin shows them, in BTC and in sats (template filters and functions)."""

from __future__ import annotations

from django import template

from reserve.common.amounts import sats_to_btc

register = template.Library()


@register.filter
def btc(sats: int | None) -> str:
    """ "1.50000000 BTC" for 150_000_000 sats; an em dash for no amount."""
    if sats is None:
        return "—"
    sign = "-" if sats < 0 else ""
    return f"{sign}{sats_to_btc(abs(sats)):,.8f} BTC"


@register.filter
def sats(value: int | None) -> str:
    return "—" if value is None else f"{value:,} sats"
