"""`manage.py regtest mine <n>`: a dev tool for the regtest chain `make run` starts, so a newcomer
can watch the books follow the chain (the next reconciliation books what the new blocks pay).

Refuses any network but regtest. Blocks go to `--to` (default: BIP173's P2WPKH test vector,
nobody's wallet)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reserve.chain.errors import NodeUnavailable
from reserve.chain.rpc import RpcChainSource

# BIP173's P2WPKH test vector on regtest: nobody's wallet.
NOBODY = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
MAX_BLOCKS = 1000


class Command(BaseCommand):
    help = "Drive the regtest chain of `make run`: `regtest mine <n> [--to ADDRESS]`."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        mine = actions.add_parser("mine", help="mine n blocks")
        mine.add_argument("count", type=int)
        mine.add_argument("--to", default=NOBODY, help="the address the coinbases pay")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.BITCOIN_NETWORK != "regtest" or not settings.BITCOIN_RPC_URL:
            raise CommandError("regtest works only against a regtest node (BITCOIN_NETWORK=regtest, BITCOIN_RPC_URL)")
        count = options["count"]
        if not 1 <= count <= MAX_BLOCKS:
            raise CommandError(f"count must be between 1 and {MAX_BLOCKS}")
        try:
            with RpcChainSource.from_settings() as source:
                hashes = source.call("generatetoaddress", count, options["to"], retry=False)
                tip = source.block_count()
        except NodeUnavailable as error:
            raise CommandError(f"the regtest node did not answer ({error}); is `make run` running?") from error
        self.stdout.write(f"mined {len(hashes)} block(s) to {options['to']}; tip is now height {tip}")
        self.stdout.write("the next reconciliation books them (or: Reconcile now in the admin)")
