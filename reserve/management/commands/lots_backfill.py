"""manage.py lots_backfill: the lots of books kept before lots existed, once, right after migrating."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from reserve.compliance.lots import lots_backfill


class Command(BaseCommand):
    help = (
        "Replay every posted transfer still on the chain, in posting order, into lots (FIFO), as postings "
        "now make them. Run once after `migrate` brings reserve 0085 to books that hold transfers, before "
        "the service posts again; refused once any lot exists."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{lots_backfill()} posted transfers replayed into lots")
