"""Historical (already settled) transfers from CSV: read and validated at proposal, posted once
the import batch is approved (reserve/imports/services.py), all or nothing.

Each line becomes a `final` transfer posted to the ledger at its back-dated time, after the
posting gate of the policy in force at that time allowed it; lines must be in strictly
increasing time order. Re-importing a line already imported changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from config.errors import ApplicationError, ValidationFailed
from ledger.errors import ImportRowError
from ledger.idempotency import request_hash
from ledger.models import JournalTransaction
from ledger.numerals import is_decimal, is_unsigned_integer
from ledger.services import ledger_import_csv
from policy.errors import PolicyDenied
from policy.selectors import category_check
from policy.services import policy_enforce, policy_quorum
from policy.types import ApprovalFact
from reserve.audit.services import audit_record, snapshot
from reserve.common.amounts import btc_to_sats
from reserve.common.csv_rows import line_error, parse_time, read_rows, relabel
from reserve.common.free_text import free_text_check
from reserve.compliance.changes import transfer_change
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.lots import transfer_lots_post
from reserve.custody.models import Counterparty, Wallet
from reserve.transfers.accounting import transfer_ledger_entries
from reserve.transfers.ends import transfer_ends_check
from reserve.transfers.models import Transfer, TransferDirection, TransferStatus

REQUIRED = ("occurred_at", "direction", "category", "amount_btc", "txid", "block_height")
OPTIONAL = (
    "fee_btc",
    "source_wallet",
    "destination_wallet",
    "external_address",
    "counterparty",
    "provenance_reference",
    "vout",
    "block_hash",
    "fiat_value",
    "fiat_currency",
    "memo",
)
# Service field names -> CSV columns, for errors raised below the importer.
COLUMNS = {"amount_sats": "amount_btc", "fee_sats": "fee_btc", "entries": "amount_btc", "account": "amount_btc"}


@dataclass
class TransferImportResult:
    created: list[Transfer] = field(default_factory=list)
    unchanged: list[Transfer] = field(default_factory=list)


def _wallet(name: str, *, line: int, column: str) -> Wallet | None:
    if not name:
        return None
    wallet = Wallet.objects.select_related("ledger_account").filter(name=name).first()
    if wallet is None:
        raise line_error(line=line, field=column, message=f"no wallet named {name!r}")
    return wallet


def _optional_int(value: str, *, line: int, column: str) -> int | None:
    if not value:
        return None
    if not is_unsigned_integer(value):
        raise line_error(line=line, field=column, message=f"{value!r} is not a whole number >= 0")
    return int(value)


def _parse_line(line: int, row: dict[str, str]) -> dict[str, Any]:
    direction, category = row["direction"], row["category"]
    if direction not in TransferDirection.values:
        raise line_error(line=line, field="direction", message=f"must be one of {', '.join(TransferDirection.values)}")
    try:
        category_check(category, direction=direction)
    except ValidationFailed as error:
        raise line_error(line=line, field="category", message=error.fields["category"][0]) from None
    try:
        amount_sats = btc_to_sats(value=row["amount_btc"], field="amount_btc")
        fee_sats = btc_to_sats(value=row.get("fee_btc") or "0", field="fee_btc", allow_zero=True)
    except ApplicationError as error:
        raise relabel(error, line=line, columns=COLUMNS) from None
    txid = row["txid"].lower()
    if len(txid) != 64 or any(char not in "0123456789abcdef" for char in txid):
        raise line_error(line=line, field="txid", message="must be 64 hexadecimal characters")
    block_height = _optional_int(row["block_height"], line=line, column="block_height")
    if block_height is None:
        raise line_error(line=line, field="block_height", message="is required for a settled transfer")
    block_hash = row.get("block_hash", "").lower()
    if block_hash and (len(block_hash) != 64 or any(char not in "0123456789abcdef" for char in block_hash)):
        raise line_error(line=line, field="block_hash", message="must be 64 hexadecimal characters")
    counterparty = None
    if row.get("counterparty"):
        counterparty = Counterparty.objects.filter(name=row["counterparty"]).first()
        if counterparty is None:
            raise line_error(line=line, field="counterparty", message=f"no counterparty named {row['counterparty']!r}")
    fiat_value: Decimal | None = None
    if row.get("fiat_value"):
        if not is_decimal(row["fiat_value"]):
            raise line_error(line=line, field="fiat_value", message=f"{row['fiat_value']!r} is not a number")
        fiat_value = Decimal(row["fiat_value"])
        if fiat_value < 0 or fiat_value >= Decimal(10) ** 22:
            raise line_error(line=line, field="fiat_value", message="must be a non-negative number")
    fiat_currency = row.get("fiat_currency", "")
    if (fiat_value is None) != (not fiat_currency):
        raise line_error(line=line, field="fiat_currency", message="give both fiat_value and fiat_currency, or neither")
    if fiat_currency and (len(fiat_currency) != 3 or not fiat_currency.isalpha() or not fiat_currency.isupper()):
        raise line_error(line=line, field="fiat_currency", message="must be an ISO 4217 code such as USD")
    source = _wallet(row.get("source_wallet", ""), line=line, column="source_wallet")
    destination = _wallet(row.get("destination_wallet", ""), line=line, column="destination_wallet")
    try:
        address = transfer_ends_check(
            direction=direction,
            source_wallet=source,
            destination_wallet=destination,
            external_address=row.get("external_address", ""),
            counterparty=counterparty,
        )
    except ApplicationError as error:
        raise relabel(error, line=line, columns=COLUMNS) from None
    if direction == TransferDirection.INBOUND and fee_sats:
        raise line_error(
            line=line, field="fee_btc", message="the sender pays the fee of an inbound transfer; leave it 0"
        )
    return {
        "direction": direction,
        "category": category,
        "amount_sats": amount_sats,
        "fee_sats": fee_sats,
        "source_wallet": source,
        "destination_wallet": destination,
        "external_address": address,
        "counterparty": counterparty,
        "provenance_reference": row.get("provenance_reference", ""),
        "memo": row.get("memo", ""),
        "fiat_value": fiat_value,
        "fiat_currency": fiat_currency,
        "txid": txid,
        "vout": _optional_int(row.get("vout", ""), line=line, column="vout"),
        "block_height": block_height,
        "block_hash": block_hash,
    }


def _row_key(fields: dict[str, Any], occurred_at: datetime) -> str:
    canonical = {name: getattr(value, "pk", value) for name, value in fields.items()} | {"occurred_at": occurred_at}
    return "import:" + request_hash(canonical)


def _ledger_rows(pending: list[tuple[int, Transfer]]) -> tuple[list[str], dict[int, int]]:
    """The ledger batch-import CSV for `pending` transfers, and ledger line -> our CSV line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "idempotency_key",
            "occurred_at",
            "kind",
            "account",
            "amount_sats",
            "memo",
            "block_height",
            "block_hash",
            "txid",
        ]
    )
    lines: dict[int, int] = {}
    for line, transfer in pending:
        assert transfer.occurred_at is not None
        for leg in transfer_ledger_entries(transfer):
            writer.writerow(
                [
                    _journal_key(transfer),
                    transfer.occurred_at.isoformat(),
                    f"import_{transfer.direction}",
                    leg.account.code,
                    leg.amount_sats,
                    f"Historical transfer #{transfer.pk}, CSV line {line}",
                    transfer.block_height,
                    transfer.block_hash,
                    transfer.txid,
                ]
            )
            lines[len(lines) + 2] = line
    return buffer.getvalue().splitlines(keepends=True), lines


def _journal_key(transfer: Transfer) -> str:
    return f"reserve:transfer:{transfer.pk}:import"


class ImportRowRefused(Exception):
    """The posting gate refused CSV line `line`: `rule` (a policy rule type) and why."""

    def __init__(self, *, line: int, denied: PolicyDenied) -> None:
        refused = [row for row in denied.decision.lines if row.verdict != "allow"]
        self.line = line
        self.rule = refused[0].rule_type if refused else "policy"
        self.reason = " ".join(row.reason for row in refused) or denied.message
        self.denied = denied
        super().__init__(f"line {line}: {self.rule}: {self.reason}")


def transfers_csv_read(*, text: str | Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """Every data line (line number, cells) of a historical transfers CSV, each one validated
    as it will be posted; a bad line raises ValidationFailed naming line and column.

    Columns: occurred_at, direction, category, amount_btc, txid, block_height (required) and
    fee_btc, source_wallet, destination_wallet (by name), external_address, counterparty (by
    name), provenance_reference, vout, block_hash, fiat_value, fiat_currency, memo.
    """
    rows = list(read_rows(text=text, required=REQUIRED, optional=OPTIONAL))
    _parsed(rows)
    return rows


def _parsed(rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, datetime, dict[str, Any]]]:
    previous: tuple[int, datetime] | None = None
    parsed = []
    for line, row in rows:
        occurred_at = parse_time(value=row["occurred_at"], line=line, field="occurred_at")
        if occurred_at > timezone.now():
            raise line_error(line=line, field="occurred_at", message="is in the future")
        if previous is not None and occurred_at <= previous[1]:
            raise line_error(
                line=line,
                field="occurred_at",
                message=f"must be later than line {previous[0]} ({previous[1].isoformat()})",
            )
        previous = (line, occurred_at)
        fields = _parse_line(line, row)
        try:
            # What the row's transfer will hold is judged now, at proposal, not only when it posts.
            free_text_check(Transfer(**fields, occurred_at=occurred_at))
        except ApplicationError as error:
            raise relabel(error, line=line, columns=COLUMNS) from None
        parsed.append((line, occurred_at, fields))
    return parsed


def transfers_csv_quorum(*, rows: list[tuple[int, dict[str, str]]], proposer: Any) -> tuple[int, str]:
    """(approvals, role) the batch needs: the strictest quorum the policy asks of any of its
    rows, judged at the row's time (`policy_quorum`, the rule transfers use)."""
    required, role = 0, ""
    for _, occurred_at, fields in _parsed(rows):
        draft = Transfer(**fields, occurred_at=occurred_at, proposer=proposer)
        needed, needed_role = policy_quorum(change=transfer_change(draft), facts=ReservePolicyFacts())
        if needed > required:
            required, role = needed, needed_role
    return required, role


def transfers_import_post(
    *, rows: list[tuple[int, dict[str, str]]], proposer: Any, approvals: tuple[ApprovalFact, ...], actor: Any
) -> TransferImportResult:
    """Post the rows of an approved batch, in order, inside the caller's transaction.

    Every new row passes the posting gate of the policy in force at its occurred_at, with the
    batch's approvals as the transfer's (`ImportRowRefused` names the line and rule; the caller
    rolls back). The postings go through the ledger's batch import, which also checks that no
    wallet goes negative.
    """
    result = TransferImportResult()
    for line, occurred_at, fields in _parsed(rows):
        key = _row_key(fields, occurred_at)
        existing = Transfer.objects.filter(idempotency_key=key).first()
        if existing is not None:
            # The key is the row's hash, so a replay's stored hash is the key's; a record
            # that holds the key with another payload is not this row.
            if existing.request_hash != key.removeprefix("import:"):
                raise line_error(
                    line=line,
                    field="idempotency_key",
                    message=f"this row's key {key!r} is held by transfer #{existing.pk} with another payload",
                )
            result.unchanged.append(existing)
            continue
        try:
            transfer = Transfer.objects.create(
                **fields,
                occurred_at=occurred_at,
                status=TransferStatus.BROADCAST,
                proposer=proposer,
                idempotency_key=key,
                request_hash=key.removeprefix("import:"),
            )
        except ApplicationError as error:  # e.g. a private key in its text (reserve/common/free_text.py)
            raise relabel(error, line=line, columns=COLUMNS) from None
        change = dataclasses.replace(transfer_change(transfer), approvals=approvals)
        try:
            policy_enforce(change=change, facts=ReservePolicyFacts(), gate="posting", as_of_change=True)
        except PolicyDenied as denied:
            raise ImportRowRefused(line=line, denied=denied) from None
        _post(line, transfer, actor=actor)
        transfer.status = TransferStatus.FINAL
        transfer.confirmed_at = transfer.finalized_at = timezone.now()
        transfer.save()
        audit_record(actor=actor, action="transfer.import", instance=transfer, before=None, after=snapshot(transfer))
        result.created.append(transfer)
    return result


def _post(line: int, transfer: Transfer, *, actor: Any) -> None:
    rows, lines = _ledger_rows([(line, transfer)])
    try:
        ledger_import_csv(rows=rows, created_by=actor, service_keys=True)
    except ImportRowError as error:
        problem = error.fields[error.field][0].split(": ", 1)[-1]
        raise line_error(
            line=lines.get(error.line, line), field=COLUMNS.get(error.field, error.field), message=problem
        ) from None
    except ApplicationError as error:
        raise relabel(error, line=line, columns=COLUMNS) from None
    transfer.journal_transaction = JournalTransaction.objects.get(idempotency_key=_journal_key(transfer))
    transfer_lots_post(transfer, journal=transfer.journal_transaction)
