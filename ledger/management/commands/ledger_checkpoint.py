"""manage.py ledger_checkpoint: refresh the as-of balance checkpoints (also a periodic Celery task)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ledger.services import ledger_checkpoint_refresh
from ledger.services.checkpoints import CHECKPOINT_EVERY


class Command(BaseCommand):
    help = "Write as-of checkpoints for entries posted since the last refresh."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=CHECKPOINT_EVERY, help="entries between checkpoints")

    def handle(self, *args: Any, **options: Any) -> None:
        written = ledger_checkpoint_refresh(every=options["every"])
        self.stdout.write(f"{written} checkpoints written")
