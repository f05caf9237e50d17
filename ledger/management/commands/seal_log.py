"""manage.py seal_log: append what has committed to the transparency log and sign a head, once or --follow."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ledger.log.sealer import seal_log


class Command(BaseCommand):
    help = "Seal committed journal transactions into the transparency log and sign the new tree head."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--follow", action="store_true", help="keep sealing every LEDGER_LOG_SEAL_SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            started = time.monotonic()
            result = seal_log()
            if result.head is not None or not options["follow"]:
                self.stdout.write(f"sealed {result.sealed}, log size {result.tree_size}")
            if not options["follow"]:
                return
            time.sleep(max(0.0, settings.LEDGER_LOG_SEAL_SECONDS - (time.monotonic() - started)))
