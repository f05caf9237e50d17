"""manage.py import_prices FILE --user NAME: import BTC price quotes (time,currency,price,source), all or nothing."""

from __future__ import annotations

from typing import IO, Any

from reserve.management.csv_import import CsvImportCommand
from reserve.pricing.services import price_quotes_import_csv


class Command(CsvImportCommand):
    help = "Import BTC price quotes from CSV (time,currency,price,source); a bad line aborts the whole file."

    def import_file(self, *, text: IO[str], actor: Any) -> str:
        result = price_quotes_import_csv(text=text, actor=actor)
        return f"{result.created} quotes imported, {result.unchanged} already present"
