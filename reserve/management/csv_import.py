"""The shape every CSV import command shares: a file, the importing operator, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError


class CsvImportCommand(BaseCommand):
    """Subclasses name the service that imports the open file and say what it did."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="username of the operator importing (audit trail)")

    # Each command imports `text` as `actor` through its service and returns the summary line.
    import_file: Callable[..., str]

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            with options["file"].open(newline="", encoding="utf-8") as handle:
                summary = self.import_file(text=handle, actor=user)
        except ApplicationError as error:
            raise CommandError(f"nothing imported: {error.message}") from None
        self.stdout.write(summary)
