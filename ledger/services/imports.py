"""ledger_import_csv: load past movements with their original times, all or nothing.

CSV columns (header required, extra columns refused):
    idempotency_key, occurred_at, kind, account, amount_sats[, memo, block_height, block_hash, txid]
One row per entry; consecutive rows with the same idempotency_key form one transaction and
must agree on its fields. occurred_at is ISO 8601 with an offset and strictly increases from
one transaction to the next. Amounts are integer satoshis (debit > 0, credit < 0).

This is the batch path: it takes the account locks and its order numbers once for the whole
file and inserts with COPY (ledger/services/bulk_insert.py), so it runs well above the rate of
single postings. Rows whose key is already in the ledger with the same payload are skipped, so a
re-run is a no-op.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from config.errors import ApplicationError
from ledger.amounts import MAX_SATS
from ledger.chain import ChainLink, journal_numbers
from ledger.errors import ImportRowError
from ledger.idempotency import client_key_check
from ledger.lock_objects import balances_lock
from ledger.models import Account, JournalTransaction
from ledger.numerals import is_signed_integer, is_unsigned_integer
from ledger.secrets import refuse_private_key
from ledger.selectors import journal_chain_hash_known
from ledger.services.bulk_insert import EntryRow, journal_copy
from ledger.services.posting import (
    EntrySpec,
    build_posting,
    posting_digest,
    translate_integrity_error,
    validate_chain_fields,
    validate_key,
    validate_kind,
    validate_legs,
)

# PostgreSQL's bigint, the type of every amount and balance column.
BIGINT_MAX = 2**63 - 1

REQUIRED = ("idempotency_key", "occurred_at", "kind", "account", "amount_sats")
OPTIONAL = ("memo", "block_height", "block_hash", "txid")
HEADER_FIELDS = ("idempotency_key", "kind", "occurred_at", "memo", "block_height", "block_hash", "txid")


@dataclass
class _Group:
    key: str
    first_line: int
    header: dict[str, Any]
    lines: list[int] = field(default_factory=list)
    legs: list[EntrySpec] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    transactions_posted: int
    entries_posted: int
    transactions_skipped: int
    first_sequence: int | None
    last_sequence: int | None


def _parse_row(
    row: dict[str, str], line: int, accounts: dict[str, Account], *, service_keys: bool
) -> tuple[dict[str, Any], EntrySpec]:
    def fail(name: str, problem: str) -> ImportRowError:
        return ImportRowError(line=line, field=name, problem=problem)

    for name in REQUIRED:
        if not (row.get(name) or "").strip():
            raise fail(name, "is required")
    raw_time = row["occurred_at"].strip()
    try:
        occurred_at = datetime.fromisoformat(raw_time)
    except ValueError:
        raise fail("occurred_at", f"{raw_time!r} is not an ISO 8601 time") from None
    if occurred_at.tzinfo is None:
        raise fail("occurred_at", "needs a UTC offset (e.g. 2024-01-31T12:00:00Z)")
    code = row["account"].strip()
    account = accounts.get(code)
    if account is None:
        raise fail("account", f"no account with code {code!r}")
    raw_amount = row["amount_sats"].strip()
    if not is_signed_integer(raw_amount):
        raise fail("amount_sats", f"{raw_amount!r} is not a whole number of satoshis")
    if not 0 < abs(int(raw_amount)) <= MAX_SATS:
        raise fail("amount_sats", "must be a non-zero number of satoshis within the 21,000,000 BTC supply")
    raw_height = (row.get("block_height") or "").strip()
    if raw_height and not is_unsigned_integer(raw_height):
        raise fail("block_height", f"{raw_height!r} is not a block height")
    header: dict[str, Any] = {
        "idempotency_key": row["idempotency_key"].strip(),
        "kind": row["kind"].strip(),
        "occurred_at": occurred_at,
        "memo": row.get("memo") or "",
        "block_height": int(raw_height) if raw_height else None,
        "block_hash": (row.get("block_hash") or "").strip() or None,
        "txid": (row.get("txid") or "").strip() or None,
    }
    for name, check in (
        ("idempotency_key", lambda: validate_key(header["idempotency_key"])),
        # A file's keys are a client's, unless a service wrote the file with its own keys.
        (
            "idempotency_key",
            lambda: service_keys or client_key_check(header["idempotency_key"], field="idempotency_key"),
        ),
        ("kind", lambda: validate_kind(header["kind"])),
        # A file's memo is a person's text: the full rule, citing only hashes the books know.
        (
            "memo",
            lambda: refuse_private_key(
                text=header["memo"],
                field="memo",
                hex_allowed=lambda value: (
                    value in (header["txid"], header["block_hash"]) or journal_chain_hash_known(value)
                ),
            ),
        ),
        (
            "block_hash",
            lambda: validate_chain_fields(
                occurred_at=None, block_height=None, block_hash=header["block_hash"], txid=header["txid"]
            ),
        ),
    ):
        try:
            check()
        except ApplicationError as exc:
            bad_field = next(iter(exc.fields), name)
            raise fail(bad_field, exc.fields[bad_field][0] if exc.fields else exc.message) from None
    return header, EntrySpec(account=account, amount_sats=int(raw_amount))


def _read_groups(rows: Iterable[str], *, service_keys: bool) -> list[_Group]:
    reader = csv.DictReader(rows)
    columns = reader.fieldnames or []
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportRowError(line=1, field=missing[0], problem="column is missing from the header")
    unknown = [name for name in columns if name not in REQUIRED + OPTIONAL]
    if unknown:
        raise ImportRowError(line=1, field=unknown[0], problem="unknown column")
    parsed: list[tuple[int, dict[str, str]]] = []
    codes: set[str] = set()
    for row in reader:
        if None in row:
            raise ImportRowError(line=reader.line_num, field="row", problem="has more fields than the header")
        parsed.append((reader.line_num, row))
        codes.add((row.get("account") or "").strip())
    accounts = {account.code: account for account in Account.objects.filter(code__in=codes)}
    groups: list[_Group] = []
    seen_keys: set[str] = set()
    totals: dict[str, int] = {}
    for line, row in parsed:
        header, leg = _parse_row(row, line, accounts, service_keys=service_keys)
        # The file's sum per account must fit the database's bigint, or PostgreSQL fails mid-import.
        totals[leg.account.code] = totals.get(leg.account.code, 0) + leg.amount_sats
        if abs(totals[leg.account.code]) > BIGINT_MAX:
            raise ImportRowError(line=line, field="amount_sats", problem="the account's total in this file overflows")
        current = groups[-1] if groups else None
        if current is None or current.key != header["idempotency_key"]:
            if header["idempotency_key"] in seen_keys:
                raise ImportRowError(
                    line=line, field="idempotency_key", problem="rows of one transaction must be consecutive"
                )
            if current is not None and header["occurred_at"] <= current.header["occurred_at"]:
                raise ImportRowError(
                    line=line, field="occurred_at", problem="must be later than the previous transaction's occurred_at"
                )
            seen_keys.add(header["idempotency_key"])
            current = _Group(key=header["idempotency_key"], first_line=line, header=header)
            groups.append(current)
        else:
            for name in HEADER_FIELDS:
                if header[name] != current.header[name]:
                    raise ImportRowError(
                        line=line, field=name, problem=f"differs from line {current.first_line} of the same transaction"
                    )
        current.lines.append(line)
        current.legs.append(leg)
    return groups


def _check_balances(groups: list[_Group], start: dict[int, int], non_negative: set[int]) -> None:
    available = dict(start)
    for group in groups:
        deltas: dict[int, int] = defaultdict(int)
        for leg in group.legs:
            deltas[leg.account.pk] += leg.amount_sats
        for account_id, delta in deltas.items():
            available[account_id] += delta
            if account_id in non_negative and delta < 0 and available[account_id] < 0:
                line = next(
                    line for line, leg in zip(group.lines, group.legs, strict=True) if leg.account.pk == account_id
                )
                raise ImportRowError(
                    line=line, field="amount_sats", problem=f"takes non-negative account {account_id} below zero"
                )


def _validated_groups(rows: Iterable[str], *, service_keys: bool = False) -> list[_Group]:
    groups = _read_groups(rows, service_keys=service_keys)
    for group in groups:
        try:
            group.legs = validate_legs(group.legs, field="amount_sats")
        except ApplicationError as exc:
            raise ImportRowError(line=group.lines[-1], field="amount_sats", problem=exc.message) from None
    return groups


def _digests(groups: list[_Group], created_by: AbstractBaseUser | None) -> dict[str, str]:
    return {
        group.key: posting_digest(
            kind=group.header["kind"],
            memo=group.header["memo"],
            occurred_at=group.header["occurred_at"],
            block_height=group.header["block_height"],
            block_hash=group.header["block_hash"],
            txid=group.header["txid"],
            metadata={},
            reverses=None,
            created_by=created_by,
            legs=group.legs,
        )
        for group in groups
    }


def _posted_keys(groups: list[_Group], digests: dict[str, str]) -> set[str]:
    """The keys of `groups` already in the books; one held with another payload stops the file."""
    existing = dict(
        JournalTransaction.objects.filter(idempotency_key__in=list(digests)).values_list(
            "idempotency_key", "request_hash"
        )
    )
    for group in groups:
        if group.key in existing and existing[group.key] != digests[group.key]:
            raise ImportRowError(
                line=group.first_line, field="idempotency_key", problem="already posted with another payload"
            )
    return set(existing)


def ledger_import_read(
    *, rows: Iterable[str], created_by: AbstractBaseUser | None = None
) -> list[tuple[int, dict[str, str]]]:
    """Validate the CSV text `rows` as `ledger_import_csv(created_by=...)` would, posting nothing,
    and return its data lines as (line number, column -> cell). ImportRowError names the bad row,
    also one whose key the books hold with another payload. (Balances are judged when the rows
    are posted, under the accounts' locks.)"""
    lines = list(rows)
    groups = _validated_groups(lines)
    _posted_keys(groups, _digests(groups, created_by))
    reader = csv.DictReader(lines)
    return [(reader.line_num, {name: (value or "").strip() for name, value in row.items()}) for row in reader]


def ledger_import_csv(
    *, rows: Iterable[str], created_by: AbstractBaseUser | None = None, service_keys: bool = False
) -> ImportResult:
    """Post every transaction of the CSV text `rows`, or none of them (ImportRowError names the row).

    The keys of a file are a client's: one in a namespace the services reserve for their own keys
    is refused, naming its line, unless the caller is a service that wrote the file (`service_keys`).
    """
    groups = _validated_groups(rows, service_keys=service_keys)
    digests = _digests(groups, created_by)
    try:
        with transaction.atomic():
            balances = balances_lock(account_ids={leg.account.pk for group in groups for leg in group.legs})
            existing = _posted_keys(groups, digests)
            fresh = [group for group in groups if group.key not in existing]
            _check_balances(
                fresh,
                {account_id: row.balance_sats - row.pending_sats for account_id, row in balances.items()},
                {account_id for account_id, row in balances.items() if row.non_negative},
            )
            if not fresh:
                return ImportResult(0, 0, len(groups), None, None)
            numbers, posted_at = journal_numbers(len(fresh))
            journals: list[JournalTransaction] = []
            entries: list[EntryRow] = []
            for number, group in zip(numbers, fresh, strict=True):
                journal, rows_of_group = build_posting(
                    link=ChainLink(sequence=number, prev_hash="", posted_at=posted_at),
                    idempotency_key=group.key,
                    digest=digests[group.key],
                    legs=group.legs,
                    metadata={},
                    reverses=None,
                    created_by=created_by,
                    **{name: group.header[name] for name in HEADER_FIELDS if name != "idempotency_key"},
                )
                journals.append(journal)
                entries.extend(rows_of_group)
            journal_copy(journals=journals, entries=entries)
    except IntegrityError as exc:
        raise translate_integrity_error(exc) from exc
    return ImportResult(
        transactions_posted=len(journals),
        entries_posted=len(entries),
        transactions_skipped=len(groups) - len(fresh),
        first_sequence=journals[0].sequence,
        last_sequence=journals[-1].sequence,
    )
