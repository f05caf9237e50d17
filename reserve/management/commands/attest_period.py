"""`manage.py attest_period --from H --to H [--output FILE]`: the signed period attestation of the
perimeter's holdings (reserve/proofs/attestations.py), for scripts/verify_statement.py --rpc."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from ledger.signing import signing_key
from reserve.proofs.attestations import period_attestation


class Command(BaseCommand):
    help = "Write the signed attestation of the perimeter's holdings at every block where they changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="from_height", type=int, required=True, help="first block of the period")
        parser.add_argument("--to", dest="to_height", type=int, required=True, help="last block of the period")
        parser.add_argument("--output", help="the file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = period_attestation(from_height=options["from_height"], to_height=options["to_height"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        text = json.dumps(document, indent=1, sort_keys=True)
        if not options["output"]:
            self.stdout.write(text)
            return
        with open(options["output"], "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        self.stderr.write(
            f"{document['statement']['verdict']}; check it with: python scripts/verify_statement.py "
            f"{options['output']} --key {signing_key().public_hex} --rpc http://USER:PASSWORD@NODE:PORT"
        )
