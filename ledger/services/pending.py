"""Two-phase postings: reserve outgoing amounts, then post or void them (or let them expire).

An open reservation adds its outgoing sats to AccountBalance.pending_sats; the balance
CHECK keeps balance - pending >= 0 on non-negative accounts, so two reservations (or a
reservation and a posting) can never together overdraw one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import Conflict, ValidationFailed
from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.idempotency import request_hash
from ledger.lock_objects import balances_lock
from ledger.models import JournalTransaction, PendingEntry, PendingStatus, PendingTransaction
from ledger.services.posting import (
    EntrySpec,
    normalize_metadata,
    post_legs,
    translate_integrity_error,
    validate_key,
    validate_kind,
    validate_legs,
    validate_text,
)


def _outgoing(legs: Sequence[EntrySpec]) -> dict[int, int]:
    """Sats each account gives up, net of its own incoming legs in the same reservation."""
    net: dict[int, int] = defaultdict(int)
    for leg in legs:
        net[leg.account.pk] += leg.amount_sats
    return {account_id: -total for account_id, total in net.items() if total < 0}


def _refresh_pending(account_ids: Iterable[int]) -> None:
    """pending_sats of these accounts, recomputed by the database from the open reservations.

    The service role cannot UPDATE pending_sats: only the owner's ledger_pending_refresh writes it
    (ledger/sql/0007_ledger_owned_derivations.sql), so it always follows the reservations' rows.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT ledger_pending_refresh(%s::bigint[])", [sorted(set(account_ids))])


def _pending_legs(pending: PendingTransaction) -> list[EntrySpec]:
    return [
        EntrySpec(account=entry.account, amount_sats=entry.amount_sats)
        for entry in pending.entries.select_related("account").order_by("pk")
    ]


def _pending_replay(*, idempotency_key: str, digest: str) -> PendingTransaction | None:
    existing = PendingTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.request_hash != digest:
        raise IdempotencyConflict(
            f"idempotency_key {idempotency_key!r} was already used for a different reservation",
            fields={"idempotency_key": ["already used with a different payload"]},
        )
    return existing


def pending_create(
    *,
    idempotency_key: str,
    entries: Sequence[EntrySpec],
    kind: str,
    memo: str = "",
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    created_by: AbstractBaseUser | None = None,
) -> PendingTransaction:
    """Reserve a balanced set of legs; raises InsufficientFunds if available balance is short."""
    validate_key(idempotency_key)
    validate_kind(kind)
    if expires_at is not None and (not isinstance(expires_at, datetime) or expires_at.tzinfo is None):
        raise ValidationFailed.for_field("expires_at", "must be a timezone-aware datetime")
    legs = validate_legs(entries)
    metadata = normalize_metadata(metadata)
    validate_text(memo=memo, metadata=metadata)
    digest = request_hash(
        {
            "kind": kind,
            "memo": memo,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "metadata": metadata,
            "entries": sorted([leg.account.code, leg.amount_sats] for leg in legs),
        }
    )
    outgoing = _outgoing(legs)
    try:
        with transaction.atomic():
            balances = balances_lock(account_ids=[leg.account.pk for leg in legs])
            replayed = _pending_replay(idempotency_key=idempotency_key, digest=digest)
            if replayed is not None:
                return replayed
            for account_id, sats in outgoing.items():
                balance = balances[account_id]
                available = balance.balance_sats - balance.pending_sats
                if balance.non_negative and available < sats:
                    raise InsufficientFunds(
                        f"account {account_id} has {available} sats available, the reservation needs {sats}",
                        fields={"entries": [f"account {account_id}: needs {sats} sats, {available} available"]},
                    )
            pending = PendingTransaction.objects.create(
                idempotency_key=idempotency_key,
                request_hash=digest,
                kind=kind,
                memo=memo,
                metadata=metadata,
                expires_at=expires_at,
                created_by_id=created_by.pk if created_by is not None else None,
            )
            PendingEntry.objects.bulk_create(
                [
                    PendingEntry(
                        pending=pending, account=leg.account, amount_sats=leg.amount_sats, currency=leg.account.currency
                    )
                    for leg in legs
                ]
            )
            _refresh_pending(outgoing)
            return pending
    except IntegrityError as exc:
        replayed = _pending_replay(idempotency_key=idempotency_key, digest=digest)
        if replayed is not None:
            return replayed
        raise translate_integrity_error(exc) from exc


def _lock_open(pending: PendingTransaction) -> PendingTransaction:
    return PendingTransaction.objects.select_for_update(of=("self",)).get(pk=pending.pk)


def pending_post(
    *,
    pending: PendingTransaction,
    idempotency_key: str,
    occurred_at: datetime | None = None,
    block_height: int | None = None,
    block_hash: str | None = None,
    txid: str | None = None,
    entries: Sequence[EntrySpec] | None = None,
    created_by: AbstractBaseUser | None = None,
) -> JournalTransaction:
    """Release the reservation and post it (or `entries`, when the final amounts differ).

    Posting an already posted reservation with the same key returns its transaction.
    """
    validate_key(idempotency_key)
    with transaction.atomic():
        locked = _lock_open(pending)
        if locked.status == PendingStatus.POSTED:
            posted = locked.posted_transaction
            if posted is not None and posted.idempotency_key == idempotency_key:
                return posted
            raise Conflict("the reservation was already posted", fields={"pending": ["already posted"]})
        if locked.status != PendingStatus.OPEN:
            raise Conflict(f"the reservation is {locked.status}", fields={"pending": [f"is {locked.status}"]})
        if locked.expires_at is not None and locked.expires_at <= timezone.now():
            raise Conflict("the reservation has expired", fields={"pending": ["expired"]})
        reserved = _pending_legs(locked)
        legs = validate_legs(entries if entries is not None else reserved)
        # Lock every account either leg set touches, in pk order, before releasing.
        balances_lock(account_ids=[leg.account.pk for leg in [*reserved, *legs]])
        # Released first (pending follows the status), so the posting may use the reserved sats;
        # the journal's id is chosen now and the foreign key is checked at commit.
        journal_id = uuid.uuid4()
        locked.status = PendingStatus.POSTED
        locked.posted_transaction_id = journal_id
        locked.save(update_fields=["status", "posted_transaction"])
        _refresh_pending(_outgoing(reserved))
        journal = post_legs(
            journal_id=journal_id,
            idempotency_key=idempotency_key,
            legs=legs,
            kind=locked.kind,
            memo=locked.memo,
            occurred_at=occurred_at,
            block_height=block_height,
            block_hash=block_hash,
            txid=txid,
            metadata={**locked.metadata, "pending_id": str(locked.pk)},
            reverses=None,
            created_by=created_by,
        )
        locked.status = PendingStatus.POSTED
        locked.posted_transaction = journal
        locked.resolved_at = journal.posted_at
        locked.resolved_by_id = created_by.pk if created_by is not None else None
        locked.save(update_fields=["status", "posted_transaction", "resolved_at", "resolved_by"])
        return journal


def _release(locked: PendingTransaction, *, status: str, reason: str, resolved_by: AbstractBaseUser | None) -> None:
    balances_lock(account_ids=locked.entries.values_list("account_id", flat=True))
    locked.status = status
    locked.void_reason = reason
    locked.resolved_at = timezone.now()
    locked.resolved_by_id = resolved_by.pk if resolved_by is not None else None
    locked.save(update_fields=["status", "void_reason", "resolved_at", "resolved_by"])
    _refresh_pending(_outgoing(_pending_legs(locked)))


def pending_void(
    *, pending: PendingTransaction, reason: str, created_by: AbstractBaseUser | None = None
) -> PendingTransaction:
    """Give the reserved sats back; voiding a voided or expired reservation is a no-op."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed.for_field("reason", "must say why the reservation is voided")
    with transaction.atomic():
        locked = _lock_open(pending)
        if locked.status == PendingStatus.POSTED:
            raise Conflict(
                "a posted reservation cannot be voided; reverse its transaction", fields={"pending": ["posted"]}
            )
        if locked.status == PendingStatus.OPEN:
            _release(locked, status=PendingStatus.VOIDED, reason=reason, resolved_by=created_by)
        return locked


def pending_expire(*, now: datetime | None = None) -> int:
    """Expire every open reservation whose expires_at has passed; returns how many."""
    now = now or timezone.now()
    expired = 0
    due = PendingTransaction.objects.filter(status=PendingStatus.OPEN, expires_at__lte=now).order_by("pk")
    for pending_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            # Skip rows a concurrent post/void holds; the next sweep sees their outcome.
            locked = (
                PendingTransaction.objects.select_for_update(skip_locked=True)
                .filter(pk=pending_id, status=PendingStatus.OPEN)
                .first()
            )
            if locked is None:
                continue
            _release(locked, status=PendingStatus.EXPIRED, reason=f"expired at {locked.expires_at}", resolved_by=None)
            expired += 1
    return expired
