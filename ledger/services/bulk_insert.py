"""Rows of many postings in two COPY statements: what the batch path spends instead of the ORM's
per-row INSERT rendering (the profile in docs/PERFORMANCE.md). COPY fires the same row and
statement triggers as INSERT, so every database check of the ledger still judges each row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import connection
from psycopg.types.json import Jsonb

from ledger.models import JournalTransaction

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
METADATA = JOURNAL_COLUMNS.index("metadata")
ENTRY_COLUMNS = ("transaction_id", "account_id", "amount_sats", "currency")
# One entry row as COPY writes it, in ENTRY_COLUMNS order: no model instance per leg (the batch
# path's profile, docs/PERFORMANCE.md); the row triggers fill and judge the rest.
EntryRow = tuple[uuid.UUID, int, int, str]


def journal_copy(*, journals: Sequence[JournalTransaction], entries: Sequence[EntryRow]) -> None:
    """Insert the built rows (ledger.services.posting.build_posting) inside the caller's transaction."""
    connection.ensure_connection()
    # Django's error wrapper: a refusal is an IntegrityError like the ORM's, named by translate_integrity_error.
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY ledger_journaltransaction ({', '.join(JOURNAL_COLUMNS)}) FROM STDIN") as copy:
            for journal in journals:
                row = [getattr(journal, name) for name in JOURNAL_COLUMNS]
                row[METADATA] = Jsonb(row[METADATA])
                copy.write_row(row)
        with cursor.copy(f"COPY ledger_entry ({', '.join(ENTRY_COLUMNS)}) FROM STDIN") as copy:
            for entry in entries:
                copy.write_row(entry)
