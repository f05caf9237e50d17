"""A batch of journal postings (the REST batch) is a ledger import: an operator proposes it, and
the approval that reaches the quorum posts every transaction or none (reserve/imports/services.py).
Nothing here posts. This module writes the batch as the ledger import's rows and names a refused
row by its place in the batch: `postings[i].<field>`, `postings[i].entries[j].<field>`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.errors import ApplicationError, Conflict, ValidationFailed
from reserve.imports.models import ImportBatch, ImportKind
from reserve.imports.services import import_propose

MAX_POSTINGS = 1000
FILENAME = "postings.json"
COLUMNS = (
    "idempotency_key",
    "occurred_at",
    "kind",
    "account",
    "amount_sats",
    "memo",
    "block_height",
    "block_hash",
    "txid",
)
ENTRY_FIELDS = ("account", "amount_sats")
KEY_HELD = "already posted with another payload"


@dataclass(frozen=True)
class Leg:
    account: str  # the ledger account's code
    amount_sats: int  # debit > 0, credit < 0


@dataclass(frozen=True)
class Posting:
    idempotency_key: str
    occurred_at: datetime
    kind: str
    entries: Sequence[Leg]
    memo: str = ""
    block_height: int | None = None
    block_hash: str | None = None
    txid: str | None = None


def _cells(posting: Posting, leg: Leg) -> list[str]:
    return [
        posting.idempotency_key,
        posting.occurred_at.isoformat(),
        posting.kind,
        leg.account,
        str(leg.amount_sats),
        posting.memo,
        "" if posting.block_height is None else str(posting.block_height),
        posting.block_hash or "",
        posting.txid or "",
    ]


def postings_csv(postings: Sequence[Posting]) -> tuple[str, dict[int, tuple[int, int]]]:
    """The batch as ledger CSV text, and each data line's (posting, entry) index. The lines are
    read back as the import reads them, so a memo spanning lines keeps the numbering right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    places = [(index, leg_index) for index, posting in enumerate(postings) for leg_index in range(len(posting.entries))]
    for posting in postings:
        for leg in posting.entries:
            writer.writerow(_cells(posting, leg))
    text = buffer.getvalue()
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    lines = [reader.line_num for _ in reader]
    return text, dict(zip(lines, places, strict=True))


def _renamed(error: ApplicationError, places: dict[int, tuple[int, int]]) -> ApplicationError:
    """A refusal naming a CSV line and column, named by the posting and entry instead."""
    field = next(iter(error.fields), "")
    found = re.match(r"line (\d+): (.*)", error.fields[field][0], re.DOTALL) if field else None
    if found is None or int(found.group(1)) not in places:
        return error
    index, leg_index = places[int(found.group(1))]
    problem = found.group(2)
    name = f"postings[{index}].entries[{leg_index}].{field}" if field in ENTRY_FIELDS else f"postings[{index}].{field}"
    kind = Conflict if problem == KEY_HELD else ValidationFailed
    return kind(f"{name}: {problem}", fields={name: [problem]})


def postings_propose(*, postings: Sequence[Posting], actor: Any) -> ImportBatch:
    """Propose N balanced transactions, each with its own idempotency key, as one ledger import
    batch waiting for the quorum. Every check of a ledger import applies at once (balance, keys,
    accounts, no custody wallet's account, increasing occurred_at, no private key in a memo)."""
    if not 0 < len(postings) <= MAX_POSTINGS:
        raise ValidationFailed.for_field("postings", f"must hold 1 to {MAX_POSTINGS} transactions")
    first_of: dict[str, int] = {}
    for index, posting in enumerate(postings):
        if posting.idempotency_key in first_of:
            raise ValidationFailed.for_field(
                f"postings[{index}].idempotency_key", f"is the key of postings[{first_of[posting.idempotency_key]}]"
            )
        first_of[posting.idempotency_key] = index
        if len(posting.entries) < 2:
            raise ValidationFailed.for_field(f"postings[{index}].entries", "a transaction needs at least two entries")
    text, places = postings_csv(postings)
    try:
        return import_propose(kind=ImportKind.LEDGER, data=text, actor=actor, filename=FILENAME)
    except ApplicationError as error:
        raise _renamed(error, places) from None
