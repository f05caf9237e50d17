"""`manage.py export_statement PROOF_ID [--output FILE]`: a proof's signed holdings statement with the
headers and merkle branches (from the node) that scripts/verify_statement.py checks it against."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from ledger.signing import signing_key
from reserve.proofs.models import ReserveProof
from reserve.proofs.statements import statement_document
from reserve.tasks import chain_source


class Command(BaseCommand):
    help = "Write a proof's signed statement with its chain evidence, for the offline verifier."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("proof", type=int, help="the proof's id")
        parser.add_argument("--output", help="the file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        proof = ReserveProof.objects.filter(pk=options["proof"]).first()
        if proof is None:
            raise CommandError(f"no proof {options['proof']}")
        try:
            with chain_source() as source:
                document = statement_document(proof=proof, source=source)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        text = json.dumps(document, indent=1, sort_keys=True)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(
                f"wrote {options['output']}; check it with: python scripts/verify_statement.py {options['output']} "
                f"--key {signing_key().public_hex}"
            )
        else:
            self.stdout.write(text)
