"""Importing BTC price quotes from CSV (time, currency, price, source), all or nothing.

Every price import is an import batch (reserve/imports/): a quote changes what the holdings
report says at and after its time, so quotes reach the price table only once the quorum has
approved the file. Here: reading the file (at proposal) and storing its quotes (at approval).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from config.errors import ApplicationError
from ledger.numerals import is_decimal
from reserve.audit.services import audit_record
from reserve.common.csv_rows import line_error, parse_time, read_rows, relabel
from reserve.common.free_text import free_text_check
from reserve.pricing.models import PriceQuote

COLUMNS = ("time", "currency", "price", "source")


@dataclass(frozen=True)
class PriceImportResult:
    created: int
    unchanged: int


def _parsed(rows: list[tuple[int, dict[str, str]]]) -> dict[tuple[str, datetime, str], tuple[int, Decimal]]:
    parsed: dict[tuple[str, datetime, str], tuple[int, Decimal]] = {}
    for line, row in rows:
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
        try:
            free_text_check(PriceQuote(currency=currency, at=at, source=row["source"], price=price))
        except ApplicationError as error:  # e.g. a private key in the source
            raise relabel(error, line=line, columns={}) from None
        _check_stored(key, line=line, price=price)
    return parsed


def _check_stored(key: tuple[str, datetime, str], *, line: int, price: Decimal) -> bool:
    """True when the quote is already stored with this price; an error when with another."""
    currency, at, source = key
    existing = PriceQuote.objects.filter(currency=currency, at=at, source=source).first()
    if existing is not None and existing.price != price:
        raise line_error(
            line=line, field="price", message=f"a {source} quote for {at.isoformat()} is stored as {existing.price}"
        )
    return existing is not None


def price_quotes_csv_read(*, text: str | Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """Every data line (line number, cells), validated; a bad line raises ValidationFailed naming
    line and field. A quote stored with another price for the same time and source is refused."""
    rows = list(read_rows(text=text, required=COLUMNS, optional=()))
    _parsed(rows)
    return rows


def price_quotes_import_post(*, rows: list[tuple[int, dict[str, str]]], actor: Any) -> PriceImportResult:
    """Store the quotes of an approved batch inside the caller's transaction; a quote already
    stored with the same price is skipped."""
    created = unchanged = 0
    for key, (line, price) in _parsed(rows).items():
        if _check_stored(key, line=line, price=price):
            unchanged += 1
            continue
        currency, at, source = key
        try:
            PriceQuote.objects.create(currency=currency, at=at, source=source, price=price)
        except ApplicationError as error:  # e.g. a private key in the source (reserve/common/free_text.py)
            raise relabel(error, line=line, columns={}) from None
        created += 1
    if created:
        last = PriceQuote.objects.order_by("-id").first()
        assert last is not None
        audit_record(
            actor=actor,
            action="pricequote.import",
            instance=last,
            before=None,
            after={"created": created, "unchanged": unchanged},
        )
    return PriceImportResult(created=created, unchanged=unchanged)
