"""Verification of every value the books store but could recompute from their entries.

The triggers keep these values; someone who can switch the triggers off (the database owner)
could change them, so `verify_stored_values()` recomputes each from the entries and names the
first difference: which table, which row or account, the stored and the recomputed value.
Checked in this order (the first failing check wins, each reports its first row):

1. entry copies: each entry's sequence, occurred_at and block_height equal its transaction's;
2. running balances: each entry's balance_after_sats is its account's sum in (sequence, id)
   order, the order the insert trigger accumulates in;
3. current balances: ledger_accountbalance's balance, entry count, last sequence equal the
   entries', and its currency and non_negative flag the account's;
4. reservations: pending_sats equals what the open reservations' legs take out of the account
   (per reservation, the account's net outgoing sats, as ledger.services.pending reserves it);
5. checkpoints: each BalanceCheckpoint equals the sum of its account's entries at or below its
   boundary and up to its cursor's sequence.

Every check is one set-based statement (window sums, joins), no query per entry or account:
the cost is a few scans of ledger_entry, which holds at 10^6 entries (docs/PERFORMANCE.md).
Used by both faces: `manage.py verify_ledger` and `/ledger/verify/`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class StoredValueDifference:
    check: str
    table: str
    row: str
    account_id: int | None
    column: str
    stored: str
    recomputed: str

    def describe(self) -> str:
        where = f"{self.table} {self.row}" + (f" (account {self.account_id})" if self.account_id is not None else "")
        return f"{self.check}: {where} stores {self.column} = {self.stored}, the entries give {self.recomputed}"


@dataclass(frozen=True)
class StoredValuesVerification:
    ok: bool
    checks: tuple[str, ...]
    first_difference: StoredValueDifference | None


# Each statement returns at most one row: (row label, account_id, column, stored, recomputed).
_ENTRY_COPIES = """
SELECT 'id=' || e.id, e.account_id, c.column_name, c.stored, c.recomputed
FROM ledger_entry e
JOIN ledger_journaltransaction t ON t.id = e.transaction_id
CROSS JOIN LATERAL (VALUES
    ('sequence', e.sequence::text, t.sequence::text),
    ('occurred_at', e.occurred_at::text, t.occurred_at::text),
    ('block_height', coalesce(e.block_height::text, 'null'), coalesce(t.block_height::text, 'null'))
) AS c(column_name, stored, recomputed)
WHERE c.stored IS DISTINCT FROM c.recomputed
ORDER BY e.sequence, e.id
LIMIT 1
"""

_RUNNING_BALANCES = """
SELECT 'id=' || id, account_id, 'balance_after_sats', balance_after_sats::text, running::text
FROM (SELECT id, account_id, sequence, balance_after_sats,
             sum(amount_sats) OVER (PARTITION BY account_id ORDER BY sequence, id ROWS UNBOUNDED PRECEDING) AS running
      FROM ledger_entry) walk
WHERE balance_after_sats <> running
ORDER BY sequence, id
LIMIT 1
"""

_CURRENT_BALANCES = """
SELECT 'account_id=' || b.account_id, b.account_id, c.column_name, c.stored, c.recomputed
FROM ledger_accountbalance b
JOIN ledger_account a ON a.id = b.account_id
LEFT JOIN (SELECT account_id, sum(amount_sats) AS total, count(*) AS entries, max(sequence) AS last_sequence
           FROM ledger_entry GROUP BY account_id) s ON s.account_id = b.account_id
CROSS JOIN LATERAL (VALUES
    ('balance_sats', b.balance_sats::text, coalesce(s.total, 0)::text),
    ('entry_count', b.entry_count::text, coalesce(s.entries, 0)::text),
    ('last_sequence', b.last_sequence::text, coalesce(s.last_sequence, 0)::text),
    ('currency', b.currency, a.currency),
    ('non_negative', b.non_negative::text, a.non_negative::text)
) AS c(column_name, stored, recomputed)
WHERE c.stored IS DISTINCT FROM c.recomputed
ORDER BY b.account_id
LIMIT 1
"""

_PENDING = """
SELECT 'account_id=' || b.account_id, b.account_id, 'pending_sats', b.pending_sats::text,
       coalesce(r.reserved, 0)::text
FROM ledger_accountbalance b
LEFT JOIN (
    SELECT account_id, sum(-net) AS reserved
    FROM (SELECT pe.pending_id, pe.account_id, sum(pe.amount_sats) AS net
          FROM ledger_pendingentry pe
          JOIN ledger_pendingtransaction p ON p.id = pe.pending_id AND p.status = 'open'
          GROUP BY pe.pending_id, pe.account_id) legs
    WHERE net < 0
    GROUP BY account_id
) r ON r.account_id = b.account_id
WHERE b.pending_sats <> coalesce(r.reserved, 0)
ORDER BY b.account_id
LIMIT 1
"""

# Checkpoint boundaries join the entries' positions (with nothing added) so that every
# checkpoint, also one inserted by hand between positions, meets the running sum at its boundary.
_CHECKPOINTS = """
SELECT 'id=' || checkpoint_id, account_id, 'balance_sats', stored::text, running::text
FROM (
    SELECT account_id, checkpoint_id, stored,
           sum(total) OVER (PARTITION BY account_id ORDER BY position ROWS UNBOUNDED PRECEDING) AS running
    FROM (
        SELECT account_id, position, sum(amount) AS total, max(checkpoint_id) AS checkpoint_id, max(stored) AS stored
        FROM (
            SELECT e.account_id, e.{column} AS position, e.amount_sats AS amount,
                   NULL::bigint AS checkpoint_id, NULL::bigint AS stored
            FROM ledger_entry e
            JOIN ledger_checkpointcursor c ON c.account_id = e.account_id AND c.dimension = %(dimension)s
            WHERE e.sequence <= c.valid_through_sequence AND e.{column} IS NOT NULL
            UNION ALL
            SELECT account_id, {boundary}, 0, id, balance_sats
            FROM ledger_balancecheckpoint WHERE dimension = %(dimension)s
        ) points
        GROUP BY account_id, position
    ) grouped
) walk
WHERE checkpoint_id IS NOT NULL AND stored <> running
ORDER BY account_id, checkpoint_id
LIMIT 1
"""

_CHECKS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("entry copies", "ledger_entry", _ENTRY_COPIES, {}),
    ("running balances", "ledger_entry", _RUNNING_BALANCES, {}),
    ("current balances", "ledger_accountbalance", _CURRENT_BALANCES, {}),
    ("reservations", "ledger_accountbalance", _PENDING, {}),
    (
        "checkpoints (occurred_at)",
        "ledger_balancecheckpoint",
        _CHECKPOINTS.format(column="occurred_at", boundary="boundary_at"),
        {"dimension": "occurred_at"},
    ),
    (
        "checkpoints (block_height)",
        "ledger_balancecheckpoint",
        _CHECKPOINTS.format(column="block_height", boundary="boundary_height"),
        {"dimension": "block_height"},
    ),
)

STORED_VALUE_CHECKS = tuple(name for name, *_ in _CHECKS)


def verify_stored_values() -> StoredValuesVerification:
    """Recompute every stored derived value from the entries; the first difference, or ok."""
    with connection.cursor() as cursor:
        for check, table, sql, params in _CHECKS:
            cursor.execute(sql, params or None)
            row = cursor.fetchone()
            if row is not None:
                label, account_id, column, stored, recomputed = row
                difference = StoredValueDifference(
                    check=check,
                    table=table,
                    row=str(label),
                    account_id=int(account_id) if account_id is not None else None,
                    column=str(column),
                    stored=str(stored),
                    recomputed=str(recomputed),
                )
                return StoredValuesVerification(ok=False, checks=STORED_VALUE_CHECKS, first_difference=difference)
    return StoredValuesVerification(ok=True, checks=STORED_VALUE_CHECKS, first_difference=None)
