"""manage.py import_ledger_csv FILE: post historical movements from a CSV, all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from ledger.services import ledger_import_csv


class Command(BaseCommand):
    help = (
        "Import past movements: columns idempotency_key, occurred_at, kind, account, amount_sats "
        "[, memo, block_height, block_hash, txid]; one row per entry, occurred_at strictly increasing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV file (UTF-8, header row)")

    def handle(self, *args: Any, **options: Any) -> None:
        with open(options["path"], newline="", encoding="utf-8") as handle:
            try:
                result = ledger_import_csv(rows=handle)
            except ApplicationError as exc:
                raise CommandError(f"nothing imported: {exc.message}") from exc
        self.stdout.write(
            f"imported {result.transactions_posted} transactions ({result.entries_posted} entries), "
            f"skipped {result.transactions_skipped} already posted; "
            f"sequences {result.first_sequence}..{result.last_sequence}"
        )
