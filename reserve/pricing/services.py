"""Importing BTC price quotes from CSV (time, currency, price, source), all or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from config.errors import ApplicationError
from ledger.numerals import is_decimal
from reserve.access.roles import require_permission
from reserve.audit.services import audit_record
from reserve.common.csv_rows import line_error, parse_time, read_rows, relabel
from reserve.pricing.models import PriceQuote


@dataclass(frozen=True)
class PriceImportResult:
    created: int
    unchanged: int


def price_quotes_import_csv(*, text: str | Iterable[str], actor: Any) -> PriceImportResult:
    """Import quotes; a quote already stored with the same price is skipped, with another
    price it is an error. Any bad line aborts the whole import, naming line and field."""
    require_permission(actor, "add_pricequote", action="import price quotes")
    parsed: dict[tuple[str, Any, str], tuple[int, Decimal]] = {}
    for line, row in read_rows(text=text, required=("time", "currency", "price", "source"), optional=()):
        at = parse_time(value=row["time"], line=line, field="time")
        currency = row["currency"]
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise line_error(line=line, field="currency", message=f"{currency!r} is not an ISO 4217 code such as USD")
        if not is_decimal(row["price"]):
            raise line_error(line=line, field="price", message=f"{row['price']!r} is not a number")
        price = Decimal(row["price"])
        if price <= 0:
            raise line_error(line=line, field="price", message="must be greater than zero")
        exponent = price.as_tuple().exponent
        if (isinstance(exponent, int) and exponent < -8) or price >= Decimal(10) ** 16:
            raise line_error(line=line, field="price", message="at most 16 digits before and 8 after the point")
        if not row["source"]:
            raise line_error(line=line, field="source", message="is required (who published the price)")
        key = (currency, at, row["source"])
        if key in parsed and parsed[key][1] != price:
            raise line_error(
                line=line, field="price", message=f"contradicts line {parsed[key][0]} for the same time and source"
            )
        parsed[key] = (line, price)
    created = unchanged = 0
    with transaction.atomic():
        for (currency, at, source), (line, price) in parsed.items():
            existing = PriceQuote.objects.filter(currency=currency, at=at, source=source).first()
            if existing is not None:
                if existing.price != price:
                    raise line_error(
                        line=line,
                        field="price",
                        message=f"a {source} quote for {at.isoformat()} is stored as {existing.price}",
                    )
                unchanged += 1
                continue
            try:
                PriceQuote.objects.create(currency=currency, at=at, source=source, price=price)
            except ApplicationError as error:  # e.g. a private key in the source (free_text.py)
                raise relabel(error, line=line, columns={}) from None
            created += 1
        if created:
            first = PriceQuote.objects.order_by("-id").first()
            assert first is not None
            audit_record(
                actor=actor,
                action="pricequote.import",
                instance=first,
                before=None,
                after={"created": created, "unchanged": unchanged},
            )
    return PriceImportResult(created=created, unchanged=unchanged)
