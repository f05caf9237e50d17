"""post_transaction and reverse_transaction: the one way entries enter the books."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from config.errors import Conflict, ValidationFailed
from ledger.amounts import MAX_SATS
from ledger.chain import (
    ChainLink,
    canonical_json,
    canonical_time,
    chain_append,
    content_digest,
    link_hash,
    transaction_content,
)
from ledger.errors import (
    IdempotencyConflict,
    ImmutableRecord,
    InsufficientFunds,
    UnbalancedTransaction,
    ZeroAmount,
)
from ledger.idempotency import request_hash
from ledger.models import Account, AccountBalance, JournalTransaction
from ledger.secrets import PRIVATE_KEY_EXPLANATION, private_key_in, private_key_in_json
from ledger.services.bulk_insert import EntryRow

HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class EntrySpec:
    """One leg to post: debit > 0, credit < 0."""

    account: Account
    amount_sats: int


def validate_legs(entries: Sequence[EntrySpec], *, field: str = "entries") -> list[EntrySpec]:
    """Check amounts and per-currency balance; return the legs with debits first."""
    legs = list(entries)
    if len(legs) < 2:
        raise UnbalancedTransaction.for_field(field, "a transaction needs at least two entries")
    totals: dict[str, int] = defaultdict(int)
    for index, leg in enumerate(legs):
        name = f"{field}[{index}]"
        if not isinstance(leg, EntrySpec):
            raise ValidationFailed.for_field(name, "must be an EntrySpec")
        if not isinstance(leg.account, Account) or leg.account.pk is None:
            raise ValidationFailed.for_field(f"{name}.account", "must be a saved ledger Account")
        amount = leg.amount_sats
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValidationFailed.for_field(f"{name}.amount_sats", "must be an integer number of satoshis")
        if amount == 0:
            raise ZeroAmount.for_field(f"{name}.amount_sats", "must not be zero")
        if abs(amount) > MAX_SATS:
            raise ValidationFailed.for_field(f"{name}.amount_sats", f"must be at most {MAX_SATS} in absolute value")
        totals[leg.account.currency] += amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        detail = ", ".join(f"{currency} sums to {total}" for currency, total in sorted(unbalanced.items()))
        raise UnbalancedTransaction(f"{field}: unbalanced ({detail})", fields={field: [f"unbalanced: {detail}"]})
    # Credits after debits, so a leg-by-leg CHECK never sees a dip that the whole posting does not make.
    return sorted(legs, key=lambda leg: (-leg.amount_sats, leg.account.pk))


def _plain_json(value: Any, path: str) -> None:
    # jsonb would turn floats into numerics and back into other Python values, which
    # would change the canonical bytes; money is integers anyway.
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _plain_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationFailed.for_field(path, "object keys must be strings")
            _plain_json(item, f"{path}.{key}")
        return
    raise ValidationFailed.for_field(path, f"unsupported JSON value of type {type(value).__name__}")


def normalize_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationFailed.for_field("metadata", "must be a JSON object")
    _plain_json(metadata, "metadata")
    normalized: dict[str, Any] = json.loads(canonical_json(metadata))
    return normalized


def validate_key(idempotency_key: str) -> None:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip() or len(idempotency_key) > 255:
        raise ValidationFailed.for_field("idempotency_key", "must be a non-empty string of at most 255 characters")


def validate_text(*, memo: str, metadata: dict[str, Any]) -> None:
    """No private key in a posting's memo or metadata (ledger/secrets.py). The services write
    these, so the hex rule is left to the free text they took it from (reserve/common/free_text.py)."""
    found = private_key_in(memo or "", hex32=False)
    if found:
        raise ValidationFailed.for_field("memo", f"{found}: {PRIVATE_KEY_EXPLANATION}")
    found = private_key_in_json(metadata)
    if found:
        raise ValidationFailed.for_field("metadata", f"{found}: {PRIVATE_KEY_EXPLANATION}")


def validate_kind(kind: str) -> None:
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise ValidationFailed.for_field("kind", "must be a non-empty string of at most 64 characters")


def validate_chain_fields(
    *, occurred_at: datetime | None, block_height: int | None, block_hash: str | None, txid: str | None
) -> None:
    if occurred_at is not None and (not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None):
        raise ValidationFailed.for_field("occurred_at", "must be a timezone-aware datetime")
    if block_height is not None and (
        not isinstance(block_height, int) or isinstance(block_height, bool) or block_height < 0
    ):
        raise ValidationFailed.for_field("block_height", "must be a non-negative integer")
    for name, value in (("block_hash", block_hash), ("txid", txid)):
        if value is not None and (not isinstance(value, str) or len(value) != 64 or not set(value) <= HEX64):
            raise ValidationFailed.for_field(name, "must be 64 lowercase hex characters")


def posting_digest(
    *,
    kind: str,
    memo: str,
    occurred_at: datetime | None,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    metadata: dict[str, Any],
    reverses: JournalTransaction | None,
    created_by: AbstractBaseUser | None,
    legs: Sequence[EntrySpec],
) -> str:
    """The request hash stored with the idempotency key: the payload as the caller gave it."""
    return request_hash(
        {
            "kind": kind,
            "memo": memo,
            "occurred_at": canonical_time(occurred_at) if occurred_at else None,
            "block_height": block_height,
            "block_hash": block_hash,
            "txid": txid,
            "metadata": metadata,
            "reverses": str(reverses.pk) if reverses is not None else None,
            "created_by": created_by.pk if created_by is not None else None,
            "entries": sorted([leg.account.code, leg.amount_sats] for leg in legs),
        }
    )


def replay_posting(*, idempotency_key: str, digest: str) -> JournalTransaction | None:
    existing = JournalTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise IdempotencyConflict(
            f"idempotency_key {idempotency_key!r} was already used for a different transaction",
            fields={"idempotency_key": ["already used with a different payload"]},
        )
    return existing


def check_funds(*, legs: Sequence[EntrySpec], balances: dict[int, AccountBalance]) -> None:
    """Refuse a posting that takes a non-negative account below its open reservations."""
    deltas: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.account.pk] += leg.amount_sats
    for account_id, delta in deltas.items():
        balance = balances[account_id]
        if balance.non_negative and delta < 0 and balance.balance_sats - balance.pending_sats + delta < 0:
            available = balance.balance_sats - balance.pending_sats
            raise InsufficientFunds(
                f"account {account_id} has {available} sats available, the posting needs {-delta}",
                fields={"entries": [f"account {account_id}: needs {-delta} sats, {available} available"]},
            )


def translate_integrity_error(exc: IntegrityError) -> Exception:
    """Map the database's refusals (constraints, our SQLSTATEs 23L0x) to ledger errors."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    diag = getattr(cause, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    message = str(getattr(diag, "message_primary", None) or exc)
    if sqlstate == "23L02":
        return UnbalancedTransaction(message, fields={"entries": [message]})
    if sqlstate == "23L01":
        return ImmutableRecord(message)
    if constraint == "ledger_balance_non_negative":
        return InsufficientFunds("a non-negative account would go below zero", fields={"entries": [message]})
    if constraint == "ledger_tx_reversed_once":
        return Conflict("the transaction was already reversed", fields={"transaction": ["already reversed"]})
    return exc


def posting_content_digest(
    *,
    id: uuid.UUID,
    idempotency_key: str,
    digest: str,
    legs: Sequence[EntrySpec],
    kind: str,
    memo: str,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    metadata: dict[str, Any],
    reverses: JournalTransaction | None,
    created_by_id: int | None,
) -> str:
    """The digest of everything in a posting except its chain position and times (see ledger.chain)."""
    return content_digest(
        transaction_content(
            id=str(id),
            idempotency_key=idempotency_key,
            request_hash=digest,
            kind=kind,
            memo=memo,
            block_height=block_height,
            block_hash=block_hash,
            txid=txid,
            metadata=metadata,
            reverses=str(reverses.pk) if reverses is not None else None,
            created_by=created_by_id,
            entries=[(leg.account.code, leg.amount_sats, leg.account.currency) for leg in legs],
        )
    )


def build_posting(
    *,
    link: ChainLink,
    idempotency_key: str,
    digest: str,
    legs: Sequence[EntrySpec],
    kind: str,
    memo: str,
    occurred_at: datetime,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    metadata: dict[str, Any],
    reverses: JournalTransaction | None,
    created_by: AbstractBaseUser | None,
) -> tuple[JournalTransaction, list[EntryRow]]:
    """The chained, unsaved rows of one posting at chain position `link` (the batch path): the journal
    row as an instance (what the callers return), its entries as COPY rows (ledger.services.bulk_insert)."""
    journal = JournalTransaction(
        id=uuid.uuid4(),
        sequence=link.sequence,
        idempotency_key=idempotency_key,
        request_hash=digest,
        occurred_at=occurred_at,
        posted_at=link.posted_at,
        block_height=block_height,
        block_hash=block_hash,
        txid=txid,
        kind=kind,
        memo=memo,
        metadata=metadata,
        reverses=reverses,
        prev_hash=link.prev_hash,
        created_by_id=created_by.pk if created_by is not None else None,
    )
    journal.hash = link_hash(
        prev_hash=link.prev_hash,
        sequence=link.sequence,
        occurred_at=occurred_at,
        posted_at=link.posted_at,
        digest=posting_content_digest(
            id=journal.id,
            idempotency_key=idempotency_key,
            digest=digest,
            legs=legs,
            kind=kind,
            memo=memo,
            block_height=block_height,
            block_hash=block_hash,
            txid=txid,
            metadata=metadata,
            reverses=reverses,
            created_by_id=journal.created_by_id,
        ),
    )
    entries: list[EntryRow] = [(journal.id, leg.account.pk, leg.amount_sats, leg.account.currency) for leg in legs]
    return journal, entries


def _posting_scope() -> AbstractContextManager[object]:
    """Where ledger_append runs.

    Outside any transaction it is a statement of its own, which PostgreSQL commits in the
    same round trip: the accounts' row locks are never held while waiting for this process
    to be scheduled again to send COMMIT. Inside a caller's transaction, a savepoint keeps
    a refusal from aborting the caller's work; the row locks are then held until the
    caller commits.
    """
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def post_legs(
    *,
    idempotency_key: str,
    legs: Sequence[EntrySpec],
    kind: str,
    memo: str,
    occurred_at: datetime | None,
    block_height: int | None,
    block_hash: str | None,
    txid: str | None,
    metadata: dict[str, Any],
    reverses: JournalTransaction | None,
    created_by: AbstractBaseUser | None,
    journal_id: uuid.UUID | None = None,
) -> JournalTransaction:
    """Validated legs -> posted transaction; shared by posting, reversal and pending_post.

    One statement does the posting: ledger_append locks the accounts in pk order, checks
    the idempotency key, takes the next order number and inserts (see its SQL). The balance
    CHECK refuses an overdraft during the insert; the error is then named here.
    """
    validate_text(memo=memo, metadata=metadata)
    digest = posting_digest(
        kind=kind,
        memo=memo,
        occurred_at=occurred_at,
        block_height=block_height,
        block_hash=block_hash,
        txid=txid,
        metadata=metadata,
        reverses=reverses,
        created_by=created_by,
        legs=legs,
    )
    created_by_id = created_by.pk if created_by is not None else None
    try:
        with _posting_scope():
            if reverses is not None:
                replayed = replay_posting(idempotency_key=idempotency_key, digest=digest)
                if replayed is not None:
                    return replayed
                if JournalTransaction.objects.filter(reverses=reverses).exists():
                    raise Conflict(
                        f"transaction #{reverses.sequence} was already reversed",
                        fields={"transaction": ["already reversed"]},
                    )
            journal_id = journal_id or uuid.uuid4()
            appended = chain_append(
                id=journal_id,
                idempotency_key=idempotency_key,
                request_hash=digest,
                occurred_at=occurred_at,
                block_height=block_height,
                block_hash=block_hash,
                txid=txid,
                kind=kind,
                memo=memo,
                metadata=metadata,
                reverses=reverses.pk if reverses is not None else None,
                created_by=created_by_id,
                digest=posting_content_digest(
                    id=journal_id,
                    idempotency_key=idempotency_key,
                    digest=digest,
                    legs=legs,
                    kind=kind,
                    memo=memo,
                    block_height=block_height,
                    block_hash=block_hash,
                    txid=txid,
                    metadata=metadata,
                    reverses=reverses,
                    created_by_id=created_by_id,
                ),
                entries=[(leg.account.pk, leg.amount_sats, leg.account.currency) for leg in legs],
            )
            if appended.replayed_id is not None:
                replayed = replay_posting(idempotency_key=idempotency_key, digest=digest)
                if replayed is not None:
                    return replayed
            journal = JournalTransaction(
                id=journal_id,
                sequence=appended.sequence,
                idempotency_key=idempotency_key,
                request_hash=digest,
                occurred_at=appended.occurred_at,
                posted_at=appended.posted_at,
                block_height=block_height,
                block_hash=block_hash,
                txid=txid,
                kind=kind,
                memo=memo,
                metadata=metadata,
                reverses=reverses,
                prev_hash=appended.prev_hash,
                hash=appended.hash,
                created_by_id=created_by_id,
            )
            # The row exists now (inserted by ledger_append): mark the instance as loaded.
            journal._state.adding = False
            journal._state.db = transaction.get_connection().alias
            return journal
    except IntegrityError as exc:
        # Same key inserted by a request that committed while this one ran.
        replayed = replay_posting(idempotency_key=idempotency_key, digest=digest)
        if replayed is not None:
            return replayed
        error = translate_integrity_error(exc)
        if isinstance(error, InsufficientFunds):
            error = _name_shortfall(legs) or error
        raise error from exc


def _name_shortfall(legs: Sequence[EntrySpec]) -> InsufficientFunds | None:
    """After the database refused an overdraft, say which account was short (from fresh balances)."""
    balances = {row.account_id: row for row in AccountBalance.objects.filter(pk__in={leg.account.pk for leg in legs})}
    try:
        check_funds(legs=legs, balances=balances)
    except InsufficientFunds as shortfall:
        return shortfall
    return None


def post_transaction(
    *,
    idempotency_key: str,
    entries: Sequence[EntrySpec],
    kind: str,
    memo: str = "",
    occurred_at: datetime | None = None,
    block_height: int | None = None,
    block_hash: str | None = None,
    txid: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_by: AbstractBaseUser | None = None,
) -> JournalTransaction:
    """Post a balanced transaction once per idempotency key.

    Same key and payload returns the original (also when the requests race); same key
    and another payload raises IdempotencyConflict. Locks: the accounts' balance rows in
    pk order, held to the commit; no ledger-wide lock (the log orders transactions after
    they commit, ledger/log/sealer.py). Called outside a transaction, the posting is one
    statement committed at once. A caller may call it inside its own atomic block after
    taking its own locks (policy scope); a caller that posts several times in one database
    transaction takes all the accounts' locks up front (ledger.services.balances_hold).
    """
    validate_key(idempotency_key)
    validate_kind(kind)
    validate_chain_fields(occurred_at=occurred_at, block_height=block_height, block_hash=block_hash, txid=txid)
    return post_legs(
        idempotency_key=idempotency_key,
        legs=validate_legs(entries),
        kind=kind,
        memo=memo,
        occurred_at=occurred_at,
        block_height=block_height,
        block_hash=block_hash,
        txid=txid,
        metadata=normalize_metadata(metadata),
        reverses=None,
        created_by=created_by,
    )


def reverse_transaction(
    *,
    transaction: JournalTransaction,
    idempotency_key: str,
    memo: str = "",
    created_by: AbstractBaseUser | None = None,
    occurred_at: datetime | None = None,
) -> JournalTransaction:
    """Post the mirror image of `transaction` (kind "reversal"); a transaction is reversed at most once.

    The reversal keeps the original's block height, so a balance as of any height on the
    best chain counts neither (a posting whose block was reorged away never was at that height).
    """
    validate_key(idempotency_key)
    validate_chain_fields(occurred_at=occurred_at, block_height=None, block_hash=None, txid=None)
    legs = [
        EntrySpec(account=entry.account, amount_sats=-entry.amount_sats)
        for entry in transaction.entries.select_related("account").order_by("pk")
    ]
    return post_legs(
        idempotency_key=idempotency_key,
        legs=validate_legs(legs),
        kind="reversal",
        memo=memo or f"reversal of #{transaction.sequence}",
        occurred_at=occurred_at,
        block_height=transaction.block_height,
        block_hash=None,
        txid=None,
        metadata={"reverses_sequence": transaction.sequence},
        reverses=transaction,
        created_by=created_by,
    )
