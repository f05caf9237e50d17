"""manage.py verify_ledger: recompute every transaction's hash, the transparency log (leaves, signed heads)
and every stored derived value (ledger/verification.py); exit 1 on the first break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.log.selectors import verify_log
from ledger.selectors import verify_chain
from ledger.verification import verify_stored_values


class Command(BaseCommand):
    help = (
        "Verify the ledger's hash chain from genesis, the transparency log's leaves and signed heads,"
        " and that every stored derived value (running and current"
        " balances, reservations, checkpoints) equals what its entries give."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        chain = verify_chain()
        if not chain.ok:
            raise CommandError(
                f"hash chain broken at sequence {chain.first_bad_sequence}: {chain.reason} "
                f"({chain.length} transactions verified before it)"
            )
        self.stdout.write(f"hash chain ok: {chain.length} transactions, head {chain.head_hash}")
        log = verify_log()
        if not log.ok:
            raise CommandError(f"transparency log broken at size {log.tree_size}: {log.reason}")
        self.stdout.write(f"transparency log ok: {log.tree_size} leaves, {log.pending} transactions still to seal")
        stored = verify_stored_values()
        if stored.first_difference is not None:
            raise CommandError(f"stored value differs from the entries; first: {stored.first_difference.describe()}")
        self.stdout.write(f"stored values ok: {', '.join(stored.checks)}")
