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

CHECKPOINT_EVERY = 250
# ('LEDG', 2): the refresher's advisory lock, taken in ledger_checkpoint_refresh (SQL).
REFRESH_LOCK_ID = 2


def ledger_checkpoint_refresh(*, every: int = CHECKPOINT_EVERY) -> int:
    """Bring every account's checkpoints up to date; returns the number of checkpoints written.

    The work is the database function ledger_checkpoint_refresh (ledger/sql/0006_*.sql), owned
    by the owner: the service role may only read checkpoints and cursors, never write them.
    One refresher at a time (advisory lock); a second caller returns 0 at once.
    Postings are not blocked: checkpoints are separate rows read only by as-of queries.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT ledger_checkpoint_refresh(%s)", [every])
        (written,) = cursor.fetchone()
    return int(written)
