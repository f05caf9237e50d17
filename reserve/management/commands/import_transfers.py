"""manage.py import_transfers FILE --user NAME: import settled historical transfers, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from reserve.services import transfers_import_csv


class Command(BaseCommand):
    help = (
        "Import historical transfers from CSV (occurred_at,direction,category,amount_btc,txid,block_height[,...]); "
        "a bad line aborts the whole file and is named with its column."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="username of the operator importing (audit trail)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            with options["file"].open(newline="", encoding="utf-8") as handle:
                result = transfers_import_csv(text=handle, actor=user)
        except ApplicationError as error:
            raise CommandError(f"nothing imported: {error.message}") from None
        self.stdout.write(f"{len(result.created)} transfers imported, {len(result.unchanged)} already present")
