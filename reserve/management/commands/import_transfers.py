"""manage.py import_transfers FILE --user NAME: import settled historical transfers, all or nothing."""

from __future__ import annotations

from typing import IO, Any

from reserve.management.csv_import import CsvImportCommand
from reserve.transfers.imports import transfers_import_csv


class Command(CsvImportCommand):
    help = (
        "Import historical transfers from CSV (occurred_at,direction,category,amount_btc,txid,block_height[,...]); "
        "a bad line aborts the whole file and is named with its column."
    )

    def import_file(self, *, text: IO[str], actor: Any) -> str:
        result = transfers_import_csv(text=text, actor=actor)
        return f"{len(result.created)} transfers imported, {len(result.unchanged)} already present"
