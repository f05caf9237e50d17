"""post_batch: N balanced transactions, each with its own idempotency key, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from config.errors import ApplicationError, ValidationFailed
from ledger.models import JournalTransaction
from ledger.services.holds import balances_hold
from ledger.services.posting import EntrySpec, post_transaction

MAX_BATCH = 1000


@dataclass(frozen=True)
class PostingSpec:
    """One transaction of a batch: post_transaction's arguments."""

    idempotency_key: str
    entries: Sequence[EntrySpec]
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


def post_batch(*, postings: Sequence[PostingSpec]) -> list[JournalTransaction]:
    """Post every transaction or none: one database transaction that takes every account's lock up
    front (one global order, ledger/services/holds.py), then posts each through post_transaction
    (its checks, its replay of a key already posted with the same payload). A refusal names the
    posting: `postings[i].<field>`."""
    if not 0 < len(postings) <= MAX_BATCH:
        raise ValidationFailed.for_field("postings", f"must hold 1 to {MAX_BATCH} transactions")
    keys = [posting.idempotency_key for posting in postings]
    if len(set(keys)) != len(keys):
        raise ValidationFailed.for_field("postings", "each transaction needs its own idempotency key")
    posted: list[JournalTransaction] = []
    with transaction.atomic():
        balances_hold(account_ids={leg.account.pk for posting in postings for leg in posting.entries})
        for index, posting in enumerate(postings):
            try:
                posted.append(
                    post_transaction(
                        idempotency_key=posting.idempotency_key,
                        entries=posting.entries,
                        kind=posting.kind,
                        **posting.options,
                    )
                )
            except ApplicationError as refusal:
                refusal.fields = {f"postings[{index}].{name}": problems for name, problems in refusal.fields.items()}
                raise
    return posted
