"""manage.py import_ledger_csv FILE --user NAME: propose past ledger movements as an import batch."""

from __future__ import annotations

from reserve.imports.models import ImportKind
from reserve.management.csv_import import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Propose past movements (columns idempotency_key, occurred_at, kind, account, amount_sats "
        "[, memo, block_height, block_hash, txid]; one row per entry, occurred_at strictly increasing) as an "
        "import batch. Rows on a custody wallet's account are refused: those move as transfers."
    )
    kind = ImportKind.LEDGER
