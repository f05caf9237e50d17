"""manage.py import_prices FILE --user NAME: import BTC price quotes (time,currency,price,source), all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from reserve.services import price_quotes_import_csv


class Command(BaseCommand):
    help = "Import BTC price quotes from CSV (time,currency,price,source); a bad line aborts the whole file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="username of the operator importing (audit trail)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            with options["file"].open(newline="", encoding="utf-8") as handle:
                result = price_quotes_import_csv(text=handle, actor=user)
        except ApplicationError as error:
            raise CommandError(f"nothing imported: {error.message}") from None
        self.stdout.write(f"{result.created} quotes imported, {result.unchanged} already present")
