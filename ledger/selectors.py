"""Reads of the books: balances now and as of a time or block height, the journal (also by
idempotency-key prefix, so a caller finds every posting it keyed for one thing), chain verification.

As-of strategy (why not one SUM over entries): a SUM over an account's entries grows with
the account; the three as-of dimensions are answered in O(log n) instead:
- posted_at: an account's postings take their number and time under its row lock, so per
  account posted_at increases with sequence, and the Entry trigger stores each account's
  running balance in sequence order (balance_after_sats). So the answer is one index
  probe: the account's last entry at or before the last sequence posted by then, stepping
  past the few numbered earlier but stamped later by a concurrent posting (no global lock).
- occurred_at and block_height are not in posting order (back-dated imports, late blocks),
  so a running balance cannot be stored immutably. ledger/checkpoints.py keeps, per
  account, a checkpoint every N entries in that dimension; an answer is the nearest
  checkpoint at or below the boundary plus at most ~N entries after it, plus the entries
  posted since the checkpoints were refreshed (CheckpointCursor) that fall below it.
Entries without a block height do not count in a block-height answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet, Sum

from config.errors import ValidationFailed
from config.replica import read_alias
from ledger.chain import content_digest, link_hash, transaction_content
from ledger.models import GENESIS_HASH, Account, AccountBalance, CheckpointDimension, Entry, JournalTransaction


def account_balance(*, account: Account) -> int:
    return int(AccountBalance.objects.values_list("balance_sats", flat=True).get(pk=account.pk))


def account_available_balance(*, account: Account) -> int:
    """Balance minus the sats held by open outgoing reservations."""
    balance, pending = AccountBalance.objects.values_list("balance_sats", "pending_sats").get(pk=account.pk)
    return int(balance - pending)


def balances_now(*, accounts: Iterable[Account], available: bool = False) -> dict[int, int]:
    """account.pk -> balance in sats now, from the stored balances in one query; with
    `available`, the balance minus the sats held by open outgoing reservations. Every account
    asked about is in the answer, 0 where the books hold no balance for it."""
    ids = {account.pk for account in accounts}
    if not ids:
        return {}
    rows = AccountBalance.objects.filter(account_id__in=ids).values_list("account_id", "balance_sats", "pending_sats")
    found = {int(account_id): int(balance - pending if available else balance) for account_id, balance, pending in rows}
    return {account_id: found.get(account_id, 0) for account_id in ids}


def _as_of_posted_sql() -> str:
    return """
        WITH cut AS (
            SELECT coalesce((SELECT sequence FROM ledger_journaltransaction WHERE posted_at <= %(x)s
                             ORDER BY posted_at DESC, sequence DESC LIMIT 1), 0) AS seq
        )
        SELECT a.id, coalesce((SELECT e.balance_after_sats FROM ledger_entry e
                               JOIN ledger_journaltransaction t ON t.id = e.transaction_id
                               WHERE e.account_id = a.id AND e.sequence <= cut.seq AND t.posted_at <= %(x)s
                               ORDER BY e.sequence DESC, e.id DESC LIMIT 1), 0)
        FROM unnest(%(ids)s::bigint[]) AS a(id), cut
    """


def _as_of_dimension_sql(dimension: str) -> str:
    column, boundary, floor = {
        CheckpointDimension.OCCURRED_AT: ("occurred_at", "boundary_at", "'-infinity'::timestamptz"),
        CheckpointDimension.BLOCK_HEIGHT: ("block_height", "boundary_height", "-1::bigint"),
    }[CheckpointDimension(dimension)]
    return f"""
        SELECT a.id,
               coalesce(cp.balance_sats, 0)
               + coalesce((SELECT sum(e.amount_sats) FROM ledger_entry e
                           WHERE e.account_id = a.id AND e.{column} <= %(x)s
                             AND e.{column} > coalesce(cp.boundary, {floor})), 0)
               + coalesce((SELECT sum(e.amount_sats) FROM ledger_entry e
                           WHERE cp.boundary IS NOT NULL AND e.account_id = a.id
                             AND e.sequence > cp.valid_through AND e.{column} <= cp.boundary), 0)
        FROM unnest(%(ids)s::bigint[]) AS a(id)
        LEFT JOIN LATERAL (
            SELECT c.{boundary} AS boundary, c.balance_sats, k.valid_through_sequence AS valid_through
            FROM ledger_checkpointcursor k
            JOIN ledger_balancecheckpoint c ON c.account_id = k.account_id AND c.dimension = k.dimension
            WHERE k.account_id = a.id AND k.dimension = %(dimension)s AND c.{boundary} <= %(x)s
            ORDER BY c.{boundary} DESC LIMIT 1
        ) cp ON true
    """


def balances_as_of(
    *,
    accounts: Iterable[Account],
    occurred_at: datetime | None = None,
    posted_at: datetime | None = None,
    block_height: int | None = None,
) -> dict[int, int]:
    """account.pk -> balance in sats as of exactly one of occurred_at, posted_at, block_height; one query."""
    given = [
        name
        for name, value in (("occurred_at", occurred_at), ("posted_at", posted_at), ("block_height", block_height))
        if value is not None
    ]
    if len(given) != 1:
        raise ValidationFailed(
            "give exactly one of occurred_at, posted_at, block_height", fields={"as_of": ["give exactly one"]}
        )
    ids = sorted({account.pk for account in accounts})
    params: dict[str, Any]
    if not ids:
        return {}
    if posted_at is not None:
        sql, params = _as_of_posted_sql(), {"x": posted_at, "ids": ids}
    elif occurred_at is not None:
        sql = _as_of_dimension_sql(CheckpointDimension.OCCURRED_AT)
        params = {"x": occurred_at, "ids": ids, "dimension": CheckpointDimension.OCCURRED_AT.value}
    else:
        sql = _as_of_dimension_sql(CheckpointDimension.BLOCK_HEIGHT)
        params = {"x": block_height, "ids": ids, "dimension": CheckpointDimension.BLOCK_HEIGHT.value}
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        return {int(account_id): int(balance) for account_id, balance in cursor.fetchall()}


def account_balance_as_of(
    *,
    account: Account,
    occurred_at: datetime | None = None,
    posted_at: datetime | None = None,
    block_height: int | None = None,
) -> int:
    return balances_as_of(accounts=[account], occurred_at=occurred_at, posted_at=posted_at, block_height=block_height)[
        account.pk
    ]


def journal_list(
    *,
    account: Account | None = None,
    kind: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> QuerySet[JournalTransaction]:
    """Journal transactions in sequence order, with their entries prefetched."""
    queryset = JournalTransaction.objects.order_by("sequence")
    if account is not None:
        queryset = queryset.filter(pk__in=Entry.objects.filter(account=account).values("transaction_id"))
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    if occurred_from is not None:
        queryset = queryset.filter(occurred_at__gte=occurred_from)
    if occurred_to is not None:
        queryset = queryset.filter(occurred_at__lte=occurred_to)
    return queryset.prefetch_related("entries__account")


def journal_transactions_by_key_prefix(*, prefixes: Iterable[str]) -> dict[str, list[JournalTransaction]]:
    """prefix -> the journal transactions whose idempotency key starts with it, in sequence order,
    with their entries and accounts prefetched; every prefix asked about is in the answer. One
    query for the journals (each prefix a range scan of the key's pattern index), two for the legs.

    The ledger knows nothing of what a key names: a caller that keys every posting of one thing
    under one prefix (its confirmations, re-confirmations, imports and reversals) finds them all
    here. End a prefix with its separator ("t:1:", not "t:1", which also matches "t:10:")."""
    given = list(prefixes)
    if any(not isinstance(prefix, str) or not prefix for prefix in given):
        raise ValidationFailed.for_field("prefixes", "must be non-empty strings")
    wanted = sorted(set(given))
    if not wanted:
        return {}
    matching = Q()
    for prefix in wanted:
        matching |= Q(idempotency_key__startswith=prefix)
    found: dict[str, list[JournalTransaction]] = {prefix: [] for prefix in wanted}
    journals = JournalTransaction.objects.filter(matching).order_by("sequence")
    for journal in journals.prefetch_related("entries__account"):
        for prefix in wanted:
            if journal.idempotency_key.startswith(prefix):
                found[prefix].append(journal)
    return found


def entry_sums_by_metadata(
    *, accounts: Iterable[Account], key: str, at: datetime | None = None, height: int | None = None
) -> list[tuple[int, str | None, str, int]]:
    """(account id, metadata[key] of the journal, or of the one it reverses; its kind; sum of
    sats) over the accounts' entries up to `at` (occurred_at, inclusive) or block `height`, or
    all of them. What the value names is the caller's business: the ledger only groups by it."""
    ids = [account.pk for account in accounts]
    if not ids:
        return []
    params: dict[str, Any] = {"ids": ids, "key": key}
    if height is not None:
        cut, params["x"] = "e.block_height <= %(x)s", height
    elif at is not None:
        cut, params["x"] = "e.occurred_at <= %(x)s", at
    else:
        cut = "true"
    sql = f"""
        SELECT e.account_id, coalesce(j.metadata ->> %(key)s, r.metadata ->> %(key)s), j.kind, sum(e.amount_sats)
        FROM ledger_entry e
        JOIN ledger_journaltransaction j ON j.id = e.transaction_id
        LEFT JOIN ledger_journaltransaction r ON r.id = j.reverses_id
        WHERE e.account_id = ANY(%(ids)s) AND {cut}
        GROUP BY 1, 2, 3
    """
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(account), ref, str(kind), int(sats)) for account, ref, kind, sats in cursor.fetchall()]


def balance_changes(
    *, accounts: Iterable[Account], since: datetime, until: datetime
) -> list[tuple[datetime, int | None, int]]:
    """Every journal transaction in [since, until) (by occurred_at) that changes the accounts'
    summed balance: (occurred_at, block_height, the summed balance after it), in economic order."""
    chosen = list(accounts)
    if not chosen:
        return []
    at_since = Entry.objects.filter(account__in=chosen, occurred_at=since).aggregate(total=Sum("amount_sats"))["total"]
    running = sum(balances_as_of(accounts=chosen, occurred_at=since).values()) - int(at_since or 0)
    per_transaction = (
        Entry.objects.filter(account__in=chosen, occurred_at__gte=since, occurred_at__lt=until)
        .values("transaction_id", "occurred_at", "block_height", "sequence")
        .annotate(delta=Sum("amount_sats"))
        .order_by("occurred_at", "sequence")
    )
    changes: list[tuple[datetime, int | None, int]] = []
    for row in per_transaction:
        if row["delta"] == 0:
            continue
        running += int(row["delta"])
        changes.append((row["occurred_at"], row["block_height"], running))
    return changes


# An account counted only while its entries' occurred_at is in [start, end) (None: unbounded),
# e.g. a wallet while it belonged to a scope.
Period = tuple[Account, datetime | None, datetime | None]


def _in_periods(periods: Iterable[Period]) -> Q:
    found = Q(pk__in=[])
    for account, start, end in periods:
        part = Q(account=account)
        if start is not None:
            part &= Q(occurred_at__gte=start)
        if end is not None:
            part &= Q(occurred_at__lt=end)
        found |= part
    return found


def period_balance(
    *, periods: Iterable[Period], occurred_at: datetime | None = None, block_height: int | None = None
) -> int:
    """Summed balance of the entries inside `periods`, as of `occurred_at` (inclusive), else block
    `height` (entries without a height do not count), else now."""
    entries = Entry.objects.filter(_in_periods(periods))
    if occurred_at is not None:
        entries = entries.filter(occurred_at__lte=occurred_at)
    elif block_height is not None:
        entries = entries.filter(block_height__lte=block_height)
    return int(entries.aggregate(total=Sum("amount_sats"))["total"] or 0)


def period_balance_changes(
    *, periods: Iterable[Period], since: datetime, until: datetime
) -> list[tuple[datetime, int | None, int]]:
    """`balance_changes` counting only the entries inside `periods`."""
    inside = _in_periods(list(periods))
    running = int(Entry.objects.filter(inside, occurred_at__lt=since).aggregate(total=Sum("amount_sats"))["total"] or 0)
    per_transaction = (
        Entry.objects.filter(inside, occurred_at__gte=since, occurred_at__lt=until)
        .values("transaction_id", "occurred_at", "block_height", "sequence")
        .annotate(delta=Sum("amount_sats"))
        .order_by("occurred_at", "sequence")
    )
    changes: list[tuple[datetime, int | None, int]] = []
    for row in per_transaction:
        if row["delta"] == 0:
            continue
        running += int(row["delta"])
        changes.append((row["occurred_at"], row["block_height"], running))
    return changes


def entries_sum_above_height(*, account: Account, height: int) -> int:
    """Sats the account's entries from blocks above `height` add up to (entries without a block
    count as below): what is still provisional when `height` is the last final block."""
    total = Entry.objects.filter(account=account, block_height__gt=height).aggregate(total=Sum("amount_sats"))["total"]
    return int(total or 0)


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    length: int
    head_hash: str
    first_bad_sequence: int | None
    reason: str


VERIFY_BATCH = 2000


def _recomputed_hash(journal: JournalTransaction, *, prev_hash: str, legs: list[tuple[str, int, str]]) -> str:
    digest = content_digest(
        transaction_content(
            id=str(journal.pk),
            idempotency_key=journal.idempotency_key,
            request_hash=journal.request_hash,
            kind=journal.kind,
            memo=journal.memo,
            block_height=journal.block_height,
            block_hash=journal.block_hash,
            txid=journal.txid,
            metadata=journal.metadata,
            reverses=str(journal.reverses_id) if journal.reverses_id else None,
            created_by=journal.created_by_id,
            entries=legs,
        )
    )
    return link_hash(
        prev_hash=prev_hash,
        sequence=journal.sequence,
        occurred_at=journal.occurred_at,
        posted_at=journal.posted_at,
        digest=digest,
    )


def _problem(
    journal: JournalTransaction, *, expected_sequence: int, prev_hash: str, legs: list[tuple[str, int, str]]
) -> tuple[int, str] | None:
    if journal.prev_hash == "":
        # Posted since the log (ledger/chain.py): numbered with gaps, hashed without a predecessor.
        if journal.sequence < expected_sequence:
            return journal.sequence, "sequence is not above the previous transaction's"
        if _recomputed_hash(journal, prev_hash="", legs=legs) != journal.hash:
            return journal.sequence, "hash does not match the transaction's content"
        return None
    if prev_hash == "":
        return journal.sequence, "a chained transaction after the chain ended"
    if journal.sequence != expected_sequence:
        return expected_sequence, f"sequence {expected_sequence} is missing (next is {journal.sequence})"
    if journal.prev_hash != prev_hash:
        return journal.sequence, "prev_hash does not match the previous transaction's hash"
    if _recomputed_hash(journal, prev_hash=prev_hash, legs=legs) != journal.hash:
        return journal.sequence, "hash does not match the transaction's content"
    return None


def verify_chain() -> ChainVerification:
    """Recompute every transaction's hash, and the links of the chained history from the genesis hash;
    report the first sequence that does not verify. Deletions of unchained transactions are the
    log's to find (ledger/log/selectors.verify_log)."""
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    head_hash = GENESIS_HASH
    length = 0
    while True:
        batch = list(
            JournalTransaction.objects.filter(sequence__gte=expected_sequence).order_by("sequence")[:VERIFY_BATCH]
        )
        if not batch:
            break
        legs: dict[object, list[tuple[str, int, str]]] = {journal.pk: [] for journal in batch}
        rows = Entry.objects.filter(transaction_id__in=list(legs)).values_list(
            "transaction_id", "account__code", "amount_sats", "currency"
        )
        for transaction_id, code, amount, currency in rows:
            legs[transaction_id].append((code, amount, currency))
        for journal in batch:
            problem = _problem(journal, expected_sequence=expected_sequence, prev_hash=prev_hash, legs=legs[journal.pk])
            if problem is not None:
                bad_sequence, reason = problem
                return ChainVerification(
                    ok=False,
                    length=length,
                    head_hash=head_hash,
                    first_bad_sequence=bad_sequence,
                    reason=reason,
                )
            prev_hash = "" if journal.prev_hash == "" else journal.hash
            head_hash = journal.hash
            expected_sequence = journal.sequence + 1
            length += 1
    return ChainVerification(ok=True, length=length, head_hash=head_hash, first_bad_sequence=None, reason="")


@dataclass(frozen=True)
class BalanceMismatch:
    account_id: int
    stored_sats: int
    entries_sats: int


def verify_balances() -> list[BalanceMismatch]:
    """Accounts whose stored balance differs from the sum of their entries (empty when the books agree)."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(
            """
            SELECT b.account_id, b.balance_sats, coalesce(s.total, 0)
            FROM ledger_accountbalance b
            LEFT JOIN (SELECT account_id, sum(amount_sats) AS total FROM ledger_entry GROUP BY account_id) s
                   ON s.account_id = b.account_id
            WHERE b.balance_sats <> coalesce(s.total, 0)
            ORDER BY b.account_id
            """
        )
        return [BalanceMismatch(int(a), int(b), int(c)) for a, b, c in cursor.fetchall()]


def journal_chain_hash_known(value: str) -> bool:
    """Does a journal transaction name `value` as its txid or block hash?"""
    return JournalTransaction.objects.filter(Q(txid=value) | Q(block_hash=value)).exists()
