"""manage.py ledger_backup [FILE]: a consistent dump of the books with its manifest (ledger/log/backup.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ValidationFailed
from ledger.log.backup import backup_write

# Beside .data/, not in it: `make clean-data` deletes .data/ and must not take the backups with it.
BACKUPS_DIR = Path(__file__).resolve().parents[3] / "backups"


class Command(BaseCommand):
    help = "Dump the service's database (as the owner) with a manifest: the log's size, root and signed head."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default="", help="where to write (default backups/<time>.sql)")

    def handle(self, *args: Any, **options: Any) -> None:
        name = f"reserve-ledger-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.sql"
        path = Path(options["file"]) if options["file"] else BACKUPS_DIR / name
        try:
            manifest = backup_write(path)
        except ValidationFailed as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"backup {path}: log size {manifest['tree_size']}, root {manifest['root_hash']}")
