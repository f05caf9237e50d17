"""ledger_checkpoint_refresh: keep as-of checkpoints dense so as-of queries read a bounded number of entries.

Per account and dimension (occurred_at, block_height), a checkpoint every `every` entries
holds the balance over all entries at or below its boundary, counting every entry up to
the cursor's sequence. A refresh reads only what was posted since the cursor:
- usually new entries lie above the last boundary: checkpoints are appended after it;
- a back-dated entry (historical import, late block) invalidates the checkpoints at or
  above its position: those are dropped and rebuilt from the last one still valid.
Per account, sequence order is commit order (the account row lock is held until commit),
so "every entry up to sequence S" is well defined while postings continue.
"""

from __future__ import annotations

from django.db import connection, transaction

from ledger.chain import CHAIN_LOCK_CLASS
from ledger.models import AccountBalance, BalanceCheckpoint, CheckpointCursor, CheckpointDimension

CHECKPOINT_EVERY = 250
REFRESH_LOCK_ID = 2

_COLUMNS = {
    CheckpointDimension.OCCURRED_AT: ("occurred_at", "boundary_at", "'-infinity'::timestamptz"),
    CheckpointDimension.BLOCK_HEIGHT: ("block_height", "boundary_height", "-1::bigint"),
}


def _refresh(*, account_id: int, dimension: CheckpointDimension, through_sequence: int, every: int) -> int:
    column, boundary, floor = _COLUMNS[dimension]
    cursor_row = CheckpointCursor.objects.filter(account_id=account_id, dimension=dimension).first()
    since = cursor_row.valid_through_sequence if cursor_row else 0
    if since >= through_sequence:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min({column}) FROM ledger_entry WHERE account_id = %s AND sequence > %s AND sequence <= %s",
            [account_id, since, through_sequence],
        )
        (lowest_new,) = cursor.fetchone()
        if lowest_new is not None:
            # Checkpoints at or above a new entry's position no longer hold its amount.
            BalanceCheckpoint.objects.filter(
                account_id=account_id, dimension=dimension, **{f"{boundary}__gte": lowest_new}
            ).delete()
        base = (
            BalanceCheckpoint.objects.filter(account_id=account_id, dimension=dimension)
            .order_by(f"-{boundary}")
            .values_list(boundary, "balance_sats")
            .first()
        )
        after, base_sats = base if base else (None, 0)
        cursor.execute(
            f"""
            INSERT INTO ledger_balancecheckpoint (account_id, dimension, {boundary}, balance_sats)
            SELECT %(account)s, %(dimension)s, position, %(base)s + running
            FROM (
                SELECT position, count,
                       (sum(total) OVER w)::bigint AS running, (sum(count) OVER w)::bigint AS seen
                FROM (SELECT {column} AS position, sum(amount_sats) AS total, count(*) AS count
                      FROM ledger_entry
                      WHERE account_id = %(account)s AND sequence <= %(through)s
                        AND {column} > coalesce(%(after)s, {floor})
                      GROUP BY {column}) grouped
                WINDOW w AS (ORDER BY position ROWS UNBOUNDED PRECEDING)
            ) walk
            WHERE seen / %(every)s > (seen - count) / %(every)s
            """,
            {
                "account": account_id,
                "dimension": dimension.value,
                "base": base_sats,
                "through": through_sequence,
                "after": after,
                "every": every,
            },
        )
        written = cursor.rowcount
    CheckpointCursor.objects.update_or_create(
        account_id=account_id, dimension=dimension, defaults={"valid_through_sequence": through_sequence}
    )
    return int(written)


def ledger_checkpoint_refresh(*, every: int = CHECKPOINT_EVERY) -> int:
    """Bring every account's checkpoints up to date; returns the number of checkpoints written.

    One refresher at a time (advisory lock); a second caller returns 0 at once.
    Postings are not blocked: checkpoints are separate rows read only by as-of queries.
    """
    written = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [CHAIN_LOCK_CLASS, REFRESH_LOCK_ID])
            (acquired,) = cursor.fetchone()
        if not acquired:
            return 0
        positions = AccountBalance.objects.filter(last_sequence__gt=0).values_list("account_id", "last_sequence")
        for account_id, last_sequence in positions.iterator():
            for dimension in CheckpointDimension:
                written += _refresh(
                    account_id=account_id, dimension=dimension, through_sequence=last_sequence, every=every
                )
    return written
