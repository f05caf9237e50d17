"""Rows of many postings in two COPY statements: what the batch path spends instead of the ORM's
per-row INSERT rendering (the profile in docs/PERFORMANCE.md). COPY fires the same row and
statement triggers as INSERT, so every database check of the ledger still judges each row."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from psycopg.types.json import Jsonb

from ledger.models import Entry, JournalTransaction

JOURNAL_COLUMNS = (
    "id",
    "sequence",
    "idempotency_key",
    "request_hash",
    "occurred_at",
    "posted_at",
    "block_height",
    "block_hash",
    "txid",
    "kind",
    "memo",
    "metadata",
    "reverses_id",
    "prev_hash",
    "hash",
    "created_by_id",
)
ENTRY_COLUMNS = ("transaction_id", "account_id", "amount_sats", "currency")


def journal_copy(*, journals: Sequence[JournalTransaction], entries: Sequence[Entry]) -> None:
    """Insert the built rows (ledger.services.posting.build_posting) inside the caller's transaction."""
    connection.ensure_connection()
    # Django's error wrapper: a refusal is an IntegrityError like the ORM's, named by translate_integrity_error.
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY ledger_journaltransaction ({', '.join(JOURNAL_COLUMNS)}) FROM STDIN") as copy:
            for journal in journals:
                copy.write_row(
                    [
                        Jsonb(journal.metadata) if name == "metadata" else getattr(journal, name)
                        for name in JOURNAL_COLUMNS
                    ]
                )
        with cursor.copy(f"COPY ledger_entry ({', '.join(ENTRY_COLUMNS)}) FROM STDIN") as copy:
            for entry in entries:
                copy.write_row([entry.transaction_id, entry.account_id, entry.amount_sats, entry.currency])
