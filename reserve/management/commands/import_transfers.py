"""manage.py import_transfers FILE --user NAME: propose settled historical transfers as an import batch."""

from __future__ import annotations

from reserve.imports.models import ImportKind
from reserve.management.csv_import import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Propose historical transfers from CSV (occurred_at,direction,category,amount_btc,txid,block_height[,...]) "
        "as an import batch; a bad line refuses the whole file and is named with its column. The quorum "
        "approves the batch by its SHA-256; each row then passes the policy's posting gate at its time."
    )
    kind = ImportKind.TRANSFERS
