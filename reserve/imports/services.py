"""Imports are proposals: one person proposes a file, the quorum approves it by its hash, and
on the approval that reaches the quorum every row posts in one database transaction, each
through the posting gate of the policy in force at the row's time, or nothing posts.

Kinds: historical transfers (reserve/transfers/imports.py reads and posts them), ledger
movements (ledger's batch import; rows that touch a custody wallet's account are refused, since
reserve bitcoin moves only as transfers, which the policy judges) and price quotes
(reserve/pricing/services.py). Every price import is a batch: a quote changes what the
holdings report says from its time on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError, Conflict, NotFound, PermissionDenied, ValidationFailed
from ledger.errors import ImportRowError
from ledger.idempotency import request_hash
from ledger.services import ledger_import_csv, ledger_import_read
from policy.rules.quorum import approvals_from
from policy.services import policy_quorum, policy_record_denial
from policy.types import ApprovalFact, ProposedChange
from reserve.access.roles import require_permission, user_roles
from reserve.audit.services import audit_record, snapshot
from reserve.common.csv_rows import line_error
from reserve.compliance.facts import ReservePolicyFacts
from reserve.custody.models import Wallet
from reserve.imports.models import ImportApproval, ImportBatch, ImportDecision, ImportKind, ImportRow, ImportStatus
from reserve.notifications.services import approvers_notify
from reserve.pricing.services import price_quotes_csv_read, price_quotes_import_post
from reserve.transfers.imports import (
    ImportRowRefused,
    transfers_csv_quorum,
    transfers_csv_read,
    transfers_import_post,
)

Rows = list[tuple[int, dict[str, str]]]

# Who may propose each kind (the permission the old direct import asked).
PROPOSE_PERMISSION = {
    ImportKind.TRANSFERS: "import_transfers",
    ImportKind.LEDGER: "import_ledger",
    ImportKind.PRICES: "add_pricequote",
}
APPROVE_PERMISSION = "approve_transfer"
WALLET_ACCOUNT_RULE = "wallet_moves_are_transfers"


def rows_hash(rows: Rows) -> str:
    """The content hash of a batch's rows (the one request-hash recipe over line -> cells)."""
    return request_hash({str(line): cells for line, cells in rows})


def batch_rows(batch: ImportBatch) -> Rows:
    return [(row.line, dict(row.cells)) for row in batch.rows.order_by("line")]


def _decode(data: bytes | str) -> tuple[str, str]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.for_field("file", "is not UTF-8 text") from None
    return text, hashlib.sha256(raw).hexdigest()


def _ledger_read(text: str, proposer: Any) -> Rows:
    # The proposer is who the rows post as (created_by), so a key the books hold is judged as posted.
    rows = ledger_import_read(rows=io.StringIO(text, newline=""), created_by=proposer)
    _refuse_wallet_accounts(rows)
    return rows


def _refuse_wallet_accounts(rows: Rows) -> None:
    """Reserve bitcoin in a custody wallet moves only as a transfer, which the policy judges; a
    raw ledger row on a wallet's account would go around it."""
    codes = {cells.get("account", "") for _, cells in rows}
    wallets = dict(Wallet.objects.filter(ledger_account__code__in=codes).values_list("ledger_account__code", "name"))
    for line, cells in rows:
        if cells.get("account") in wallets:
            raise line_error(
                line=line,
                field="account",
                message=f"is the account of custody wallet {wallets[cells['account']]!r}; "
                f"{WALLET_ACCOUNT_RULE}: import its movements as transfers (import_transfers)",
            )


def _read(kind: str, text: str, proposer: Any) -> Rows:
    if kind == ImportKind.TRANSFERS:
        return transfers_csv_read(text=text)
    if kind == ImportKind.PRICES:
        return price_quotes_csv_read(text=text)
    return _ledger_read(text, proposer)


def _scopeless_change(proposer_id: int, approvals: tuple[ApprovalFact, ...] = ()) -> ProposedChange:
    # Ledger and price rows move no reserve bitcoin: the quorum is the policy's default one.
    return ProposedChange(
        direction="internal",
        category="other",
        amount_sats=1,
        at=timezone.now(),
        proposer_id=proposer_id,
        approvals=approvals,
    )


def _quorum(kind: str, rows: Rows, proposer: Any) -> tuple[int, str]:
    if kind == ImportKind.TRANSFERS:
        return transfers_csv_quorum(rows=rows, proposer=proposer)
    return policy_quorum(change=_scopeless_change(proposer.pk), facts=ReservePolicyFacts())


def import_propose(*, kind: str, data: bytes | str, actor: Any, filename: str = "") -> ImportBatch:
    """Validate the whole file (a bad line is refused naming line and column) and store it as a
    batch waiting for approval; nothing reaches the books or the price table yet."""
    if kind not in ImportKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of {', '.join(ImportKind.values)}")
    require_permission(actor, PROPOSE_PERMISSION[ImportKind(kind)], action=f"propose a {kind} import")
    text, file_sha256 = _decode(data)
    rows = _read(kind, text, actor)
    if not rows:
        raise ValidationFailed.for_field("file", "has no data lines")
    required, role = _quorum(kind, rows, actor)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            kind=kind,
            file_sha256=file_sha256,
            content_hash=rows_hash(rows),
            filename=filename[:255],
            proposer=actor,
            required_approvals=required,
            required_role=role,
        )
        ImportRow.objects.bulk_create([ImportRow(batch=batch, line=line, cells=cells) for line, cells in rows])
        audit_record(
            actor=actor,
            action="importbatch.propose",
            instance=batch,
            before=None,
            after=snapshot(batch) | {"rows": len(rows)},
        )
        approvers_notify(
            kind="import batch",
            instance=batch,
            summary=f"Import batch {batch.pk}: {kind}, {len(rows)} rows, file SHA-256 {file_sha256}",
            permission=f"reserve.{APPROVE_PERMISSION}",
            proposer=actor,
        )
    return batch


def _lock(batch: ImportBatch) -> ImportBatch:
    try:
        return ImportBatch.objects.select_for_update().get(pk=batch.pk)
    except ImportBatch.DoesNotExist:
        raise NotFound(f"import batch {batch.pk} does not exist") from None


def import_refusal(*, batch: ImportBatch, actor: Any, file_sha256: str) -> ApplicationError | None:
    """Why `actor` may not decide on `batch` as it stands (None: they may). The admin asks it
    before offering the buttons; the services raise it."""
    if batch.status != ImportStatus.PENDING_APPROVAL:
        return Conflict(
            f"import batch {batch.pk} is {batch.status}, not waiting for approval",
            fields={"status": [f"is {batch.status}"]},
        )
    if batch.proposer_id == actor.pk:
        return PermissionDenied(
            "the proposer of an import can never decide on it", fields={"approver": ["is the proposer"]}
        )
    if batch.approvals.filter(approver=actor).exists():
        return Conflict(
            f"{actor.get_username()} has already decided on this import", fields={"approver": ["already decided"]}
        )
    if file_sha256 != batch.file_sha256:
        return Conflict(
            f"import batch {batch.pk} has file hash {batch.file_sha256}, not {file_sha256}",
            fields={"file_sha256": ["is not the hash of this batch's file"]},
        )
    if rows_hash(batch_rows(batch)) != batch.content_hash:
        return Conflict(
            f"the rows of import batch {batch.pk} changed since it was proposed",
            fields={"rows": ["differ from what was proposed"]},
        )
    return None


def _decide(*, batch: ImportBatch, actor: Any, decision: str, file_sha256: str, comment: str) -> ImportApproval:
    refusal = import_refusal(batch=batch, actor=actor, file_sha256=file_sha256)
    if refusal is not None:
        raise refusal
    approval = ImportApproval.objects.create(
        batch=batch, approver=actor, decision=decision, file_sha256=file_sha256, comment=comment
    )
    audit_record(actor=actor, action="importapproval.create", instance=approval, before=None, after=snapshot(approval))
    return approval


def import_reject(*, batch: ImportBatch, actor: Any, file_sha256: str, comment: str) -> ImportBatch:
    """An approver (not the proposer) says no, with the reason; nothing is posted."""
    require_permission(actor, APPROVE_PERMISSION, action="reject an import")
    if not comment.strip():
        raise ValidationFailed.for_field("comment", "say why the import is rejected")
    with transaction.atomic():
        locked = _lock(batch)
        _decide(batch=locked, actor=actor, decision=ImportDecision.REJECT, file_sha256=file_sha256, comment=comment)
        before = snapshot(locked)
        locked.status = ImportStatus.REJECTED
        locked.refused_reason = comment
        locked.decided_at = timezone.now()
        locked.save()
        audit_record(actor=actor, action="importbatch.reject", instance=locked, before=before, after=snapshot(locked))
    return locked


def _approval_facts(batch: ImportBatch) -> tuple[ApprovalFact, ...]:
    """The approvals that count: those given to the hash the batch has now."""
    return tuple(
        ApprovalFact(approver_id=approval.approver_id, roles=user_roles(approval.approver), approved_at=approval.at)
        for approval in batch.approvals.select_related("approver").filter(
            decision=ImportDecision.APPROVE, file_sha256=batch.file_sha256
        )
    )


def import_approve(*, batch: ImportBatch, actor: Any, file_sha256: str, comment: str = "") -> ImportBatch:
    """Approve the batch whose file hash is `file_sha256` (never the proposer's, once per
    approver). The approval that reaches the quorum posts every row in this transaction, or,
    if the posting gate refuses a row, none: the batch is then refused with the row's line,
    the rule and the stored evaluation. A decided batch takes no more approvals."""
    require_permission(actor, APPROVE_PERMISSION, action="approve an import")
    with transaction.atomic():
        locked = _lock(batch)
        _decide(batch=locked, actor=actor, decision=ImportDecision.APPROVE, file_sha256=file_sha256, comment=comment)
        approvals = _approval_facts(locked)
        counted = approvals_from(_scopeless_change(locked.proposer_id, approvals), locked.required_role)
        if counted < locked.required_approvals:
            return locked
        before = snapshot(locked)
        try:
            with transaction.atomic():
                locked.outcome = _post(locked, approvals=approvals, actor=actor)
                locked.status = ImportStatus.POSTED
        except ImportRowRefused as refused:
            _refuse(locked, line=refused.line, rule=refused.rule, reason=refused.reason)
            locked.evaluation = policy_record_denial(denied=refused.denied)
        except ApplicationError as error:
            _refuse(locked, line=_line_of(error), rule="books", reason=error.message)
        locked.decided_at = timezone.now()
        locked.save()
        action = "importbatch.post" if locked.status == ImportStatus.POSTED else "importbatch.refuse"
        audit_record(actor=actor, action=action, instance=locked, before=before, after=snapshot(locked))
    return locked


def _refuse(batch: ImportBatch, *, line: int | None, rule: str, reason: str) -> None:
    batch.status = ImportStatus.REFUSED
    batch.outcome = {}
    batch.refused_line, batch.refused_rule, batch.refused_reason = line, rule[:64], reason


def _line_of(error: ApplicationError) -> int | None:
    found = re.match(r"line (\d+)", error.message)
    return int(found.group(1)) if found else None


def _post(batch: ImportBatch, *, approvals: tuple[ApprovalFact, ...], actor: Any) -> dict[str, Any]:
    rows = batch_rows(batch)
    if batch.kind == ImportKind.TRANSFERS:
        result = transfers_import_post(rows=rows, proposer=batch.proposer, approvals=approvals, actor=actor)
        return {"created": [t.pk for t in result.created], "unchanged": [t.pk for t in result.unchanged]}
    if batch.kind == ImportKind.PRICES:
        quotes = price_quotes_import_post(rows=rows, actor=actor)
        return {"created": quotes.created, "unchanged": quotes.unchanged}
    _refuse_wallet_accounts(rows)
    try:
        posted = ledger_import_csv(rows=_ledger_csv(rows), created_by=batch.proposer)
    except ImportRowError as error:
        line = rows[error.line - 2][0] if 2 <= error.line < len(rows) + 2 else error.line
        problem = error.fields[error.field][0].split(": ", 1)[-1]
        raise line_error(line=line, field=error.field, message=problem) from None
    return {
        "created": posted.transactions_posted,
        "unchanged": posted.transactions_skipped,
        "first_sequence": posted.first_sequence,
        "last_sequence": posted.last_sequence,
    }


def _ledger_csv(rows: Rows) -> list[str]:
    """The stored rows as the ledger's CSV again; a ledger error's line is the batch's line."""
    columns = list(rows[0][1])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for _, cells in rows:
        writer.writerow([cells.get(name, "") for name in columns])
    return buffer.getvalue().splitlines(keepends=True)


def import_batch_summary(batch: ImportBatch) -> str:
    """One line for a command or a message: id, hash, status."""
    return f"import batch #{batch.pk} ({batch.kind}, sha256 {batch.file_sha256}): {batch.status.replace('_', ' ')}"
