"""manage.py ledger_restore FILE: load a backup into the empty service database, kept only if it
reproduces its manifest's signed root (ledger/log/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ValidationFailed
from ledger.log.backup import restore_load


class Command(BaseCommand):
    help = "Restore a backup into an empty database; refuse it unless the journal reproduces the signed root."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a file written by manage.py ledger_backup (make backup)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore_load(Path(options["file"]))
        except ValidationFailed as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"restored: log size {manifest['tree_size']}, root {manifest['root_hash']} reproduced")
