"""post_batch: N balanced transactions, each with its own idempotency key, all or nothing, set-based."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from config.errors import ApplicationError, ValidationFailed
from ledger.chain import ChainLink, journal_numbers
from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.models import AccountBalance, JournalTransaction
from ledger.services.bulk_insert import journal_copy
from ledger.services.holds import balances_hold
from ledger.services.posting import (
    EntrySpec,
    build_posting,
    normalize_metadata,
    posting_digest,
    translate_integrity_error,
    validate_chain_fields,
    validate_key,
    validate_kind,
    validate_legs,
    validate_text,
)

MAX_BATCH = 1000
OPTIONS = frozenset({"memo", "occurred_at", "block_height", "block_hash", "txid", "metadata", "created_by"})


@dataclass(frozen=True)
class PostingSpec:
    """One transaction of a batch: post_transaction's arguments."""

    idempotency_key: str
    entries: Sequence[EntrySpec]
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Checked:
    spec: PostingSpec
    legs: list[EntrySpec]
    metadata: dict[str, Any]
    digest: str


def _checked(posting: PostingSpec) -> _Checked:
    """post_transaction's checks of one posting, and its request hash (the same, so a key posted
    alone replays in a batch and the other way round)."""
    unknown = sorted(set(posting.options) - OPTIONS)
    if unknown:
        raise ValidationFailed.for_field(unknown[0], "is not an option of a posting")
    options = posting.options
    validate_key(posting.idempotency_key)
    validate_kind(posting.kind)
    validate_chain_fields(
        occurred_at=options.get("occurred_at"),
        block_height=options.get("block_height"),
        block_hash=options.get("block_hash"),
        txid=options.get("txid"),
    )
    legs = validate_legs(posting.entries)
    metadata = normalize_metadata(options.get("metadata"))
    validate_text(memo=options.get("memo", ""), metadata=metadata)
    digest = posting_digest(
        kind=posting.kind,
        memo=options.get("memo", ""),
        occurred_at=options.get("occurred_at"),
        block_height=options.get("block_height"),
        block_hash=options.get("block_hash"),
        txid=options.get("txid"),
        metadata=metadata,
        reverses=None,
        created_by=options.get("created_by"),
        legs=legs,
    )
    return _Checked(spec=posting, legs=legs, metadata=metadata, digest=digest)


def _named(refusal: ApplicationError, index: int) -> ApplicationError:
    refusal.fields = {f"postings[{index}].{name}": problems for name, problems in refusal.fields.items()}
    return refusal


def _shortfall(checked: list[tuple[int, _Checked]]) -> InsufficientFunds | None:
    """After the database refused an overdraft: the first posting that takes an account below what
    it has available, from fresh balances, in batch order."""
    ids = {leg.account.pk for _, item in checked for leg in item.legs}
    balances = {row.account_id: row for row in AccountBalance.objects.filter(pk__in=ids)}
    available = {account_id: row.balance_sats - row.pending_sats for account_id, row in balances.items()}
    for index, item in checked:
        deltas: dict[int, int] = defaultdict(int)
        for leg in item.legs:
            deltas[leg.account.pk] += leg.amount_sats
        for account_id, delta in deltas.items():
            available[account_id] += delta
            if balances[account_id].non_negative and delta < 0 and available[account_id] < 0:
                name = f"postings[{index}].entries"
                return InsufficientFunds(
                    f"{name}: account {account_id} would go below zero",
                    fields={
                        name: [f"account {account_id}: needs {-delta} sats, {available[account_id] - delta} available"]
                    },
                )
    return None


def post_batch(*, postings: Sequence[PostingSpec]) -> list[JournalTransaction]:
    """Post every transaction or none, in one database transaction: every posting checked as
    post_transaction checks it, every account's lock taken up front (one global order,
    ledger/services/holds.py), keys already posted with the same payload replayed (another payload
    refused), order numbers taken at once and the rows written with COPY; the database's triggers
    judge each row (zero sum, overdraft, running balances, the log's queue). A refusal names the
    posting: `postings[i].<field>`."""
    if not 0 < len(postings) <= MAX_BATCH:
        raise ValidationFailed.for_field("postings", f"must hold 1 to {MAX_BATCH} transactions")
    keys = [posting.idempotency_key for posting in postings]
    if len(set(keys)) != len(keys):
        raise ValidationFailed.for_field("postings", "each transaction needs its own idempotency key")
    checked: list[_Checked] = []
    for index, posting in enumerate(postings):
        try:
            checked.append(_checked(posting))
        except ApplicationError as refusal:
            raise _named(refusal, index) from None
    fresh: list[tuple[int, _Checked]] = []
    try:
        with transaction.atomic():
            balances_hold(account_ids={leg.account.pk for item in checked for leg in item.legs})
            existing = {
                journal.idempotency_key: journal
                for journal in JournalTransaction.objects.filter(idempotency_key__in=keys)
            }
            for index, item in enumerate(checked):
                held = existing.get(item.spec.idempotency_key)
                if held is None:
                    fresh.append((index, item))
                elif held.request_hash != item.digest:
                    raise _named(
                        IdempotencyConflict(
                            f"idempotency_key {item.spec.idempotency_key!r} was already used for another transaction",
                            fields={"idempotency_key": ["already used with a different payload"]},
                        ),
                        index,
                    )
            built: dict[str, JournalTransaction] = {}
            if fresh:
                numbers, posted_at = journal_numbers(len(fresh))
                entries = []
                for number, (_, item) in zip(numbers, fresh, strict=True):
                    options = item.spec.options
                    journal, rows = build_posting(
                        link=ChainLink(sequence=number, prev_hash="", posted_at=posted_at),
                        idempotency_key=item.spec.idempotency_key,
                        digest=item.digest,
                        legs=item.legs,
                        kind=item.spec.kind,
                        memo=options.get("memo", ""),
                        occurred_at=options.get("occurred_at") or posted_at,
                        block_height=options.get("block_height"),
                        block_hash=options.get("block_hash"),
                        txid=options.get("txid"),
                        metadata=item.metadata,
                        reverses=None,
                        created_by=options.get("created_by"),
                    )
                    built[journal.idempotency_key] = journal
                    entries.extend(rows)
                journal_copy(journals=list(built.values()), entries=entries)
                for journal in built.values():
                    journal._state.adding = False
                    journal._state.db = transaction.get_connection().alias
    except IntegrityError as exc:
        error = translate_integrity_error(exc)
        if isinstance(error, InsufficientFunds):
            error = _shortfall(fresh) or error
        raise error from exc
    return [built.get(key) or existing[key] for key in keys]
