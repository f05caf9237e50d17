"""manage.py import_prices FILE --user NAME: propose BTC price quotes (time,currency,price,source) as a batch."""

from __future__ import annotations

from reserve.imports.models import ImportKind
from reserve.management.csv_import import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Propose BTC price quotes from CSV (time,currency,price,source) as an import batch; a bad line "
        "refuses the whole file. Quotes reach the price table once the quorum approves the batch."
    )
    kind = ImportKind.PRICES
