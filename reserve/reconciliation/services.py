"""A reconciliation run of one wallet: scan to the node's tip H, then compare the chain with the
books at H and the confirmation depth, and resolve discrepancies (with an audited adjustment)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from config.errors import Conflict, ValidationFailed
from ledger.models import AccountType
from ledger.selectors import account_balance
from ledger.services import EntrySpec, account_create, post_transaction
from reserve.access.roles import require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.chain.errors import NodeUnavailable
from reserve.chain.source import ChainSource
from reserve.common.amounts import btc_text, check_sats
from reserve.common.settings import confirmation_depth
from reserve.custody.models import Wallet
from reserve.outbox.models import OutboxMessage
from reserve.outbox.services import outbox_enqueue
from reserve.reconciliation.booking import discrepancy_open
from reserve.reconciliation.follower import ProgressCallback, wallet_scan
from reserve.reconciliation.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    ReconciliationRun,
    RunStatus,
    ScanCursor,
    UtxoStatus,
    WalletUtxo,
)
from reserve.transfers.funds import wallet_funds_text
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_finalize

logger = logging.getLogger(__name__)

ADJUSTMENTS_ACCOUNT = "equity:reconciliation-adjustments"

RECONCILE_TASK = "reserve.reconcile_wallet_task"


def reconciliation_request(*, wallet: Wallet, actor: Any) -> OutboxMessage:
    """An operator's "Reconcile now": the wallet's reconciliation task, sent through the outbox
    once this commits (audited; a run already in progress makes the task return at once)."""
    require_permission(actor, "request_reconciliation", action="ask for a reconciliation")
    with transaction.atomic():
        message = outbox_enqueue(task_name=RECONCILE_TASK, args=[wallet.pk])
        audit_record(
            actor=actor, action="wallet.reconcile_request", instance=wallet, before=None, after={"outbox": message.pk}
        )
    return message


def reconciliation_run_start(*, wallet: Wallet, trigger: str, task_id: str = "") -> ReconciliationRun:
    """Open a run (committed at once, so it stays even if the run dies). Runs of the wallet
    still marked running were interrupted: the caller holds the wallet's lock."""
    with transaction.atomic():
        ReconciliationRun.objects.filter(wallet=wallet, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error="interrupted: its worker stopped mid-run"
        )
        return ReconciliationRun.objects.create(
            wallet=wallet, trigger=trigger, task_id=task_id or "", confirmation_depth=confirmation_depth()
        )


def _finish_failed(run: ReconciliationRun, error: BaseException) -> None:
    message = getattr(error, "message", "") or str(error) or type(error).__name__
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error=f"{type(error).__name__}: {message}"[:4000]
    )
    run.refresh_from_db()


def _resolve_automatically(discrepancies: Any, *, reason: str) -> int:
    return int(
        discrepancies.filter(status=DiscrepancyStatus.OPEN).update(
            status=DiscrepancyStatus.RESOLVED, resolution_reason=reason, resolved_at=timezone.now()
        )
    )


def _compare(*, run: ReconciliationRun, wallet: Wallet, source: ChainSource, height: int) -> None:
    """Finalize what is buried deep enough, compare balances, and report transfers the chain lacks."""
    depth = run.confirmation_depth
    final_height = height - depth + 1
    ours = Q(source_wallet=wallet) | Q(destination_wallet=wallet)
    with transaction.atomic():
        for transfer in Transfer.objects.filter(
            ours, status=TransferStatus.CONFIRMED, block_height__lte=final_height
        ).order_by("pk"):
            transfer_finalize(transfer=transfer, tip_height=height)
            run.finalized_count += 1
        live = WalletUtxo.objects.filter(wallet=wallet).exclude(status=UtxoStatus.REORGED)
        unspent = live.filter(status=UtxoStatus.UNSPENT)
        run.utxo_count = unspent.count()
        run.chain_balance_sats = int(unspent.aggregate(total=Sum("value_sats"))["total"] or 0)
        buried = live.filter(block_height__lte=final_height).filter(
            Q(status=UtxoStatus.UNSPENT) | Q(spent_height__gt=final_height)
        )
        run.final_balance_sats = int(buried.aggregate(total=Sum("value_sats"))["total"] or 0)
        run.ledger_balance_sats = account_balance(account=wallet.ledger_account)
        balance = Discrepancy.objects.filter(wallet=wallet, kind=DiscrepancyKind.AMOUNT_MISMATCH, txid="")
        if run.chain_balance_sats != run.ledger_balance_sats:
            discrepancy_open(
                wallet=wallet,
                kind=DiscrepancyKind.AMOUNT_MISMATCH,
                run=run,
                block_height=max(height, 0),
                expected_sats=run.ledger_balance_sats,
                actual_sats=run.chain_balance_sats,
                detail=f"at height {height} the chain holds {run.chain_balance_sats} sats, "
                f"the books {run.ledger_balance_sats} sats",
            )
        else:
            _resolve_automatically(balance, reason=f"chain and books agree at height {height}")
        _report_unmined(run=run, wallet=wallet, source=source)
        mined = Discrepancy.objects.filter(
            wallet=wallet,
            kind__in=(DiscrepancyKind.UNCONFIRMED, DiscrepancyKind.MISSING_ON_CHAIN),
            transfer__status__in=(TransferStatus.CONFIRMED, TransferStatus.FINAL),
        )
        _resolve_automatically(mined, reason=f"mined; confirmed at or below height {height}")
        run.save()


def _report_unmined(*, run: ReconciliationRun, wallet: Wallet, source: ChainSource) -> None:
    """Broadcast (or reorged) transfers of this wallet that no block of the best chain holds:
    unconfirmed while the node's mempool has them, missing on chain otherwise."""
    waiting = Transfer.objects.filter(
        source_wallet=wallet, status__in=(TransferStatus.BROADCAST, TransferStatus.REORGED)
    ).exclude(txid="")
    waiting = waiting | Transfer.objects.filter(destination_wallet=wallet, status=TransferStatus.REORGED)
    # A mined txid whose transfer did not match was reported when its block was booked.
    live = WalletUtxo.objects.filter(wallet=wallet).exclude(status=UtxoStatus.REORGED)
    mined = set(live.values_list("txid", flat=True)) | set(live.values_list("spent_by_txid", flat=True))
    transfers = [transfer for transfer in waiting.distinct().order_by("pk") if transfer.txid not in mined]
    if not transfers:
        return
    mempool = source.mempool_txids()
    for transfer in transfers:
        in_mempool = transfer.txid in mempool
        kind = DiscrepancyKind.UNCONFIRMED if in_mempool else DiscrepancyKind.MISSING_ON_CHAIN
        other = DiscrepancyKind.MISSING_ON_CHAIN if in_mempool else DiscrepancyKind.UNCONFIRMED
        _resolve_automatically(
            Discrepancy.objects.filter(wallet=wallet, kind=other, txid=transfer.txid),
            reason="back in the mempool" if in_mempool else "left the mempool",
        )
        where = "is in the node's mempool, not yet mined" if in_mempool else "is neither mined nor in the mempool"
        discrepancy_open(
            wallet=wallet,
            kind=kind,
            txid=transfer.txid,
            run=run,
            transfer=transfer,
            expected_sats=transfer.amount_sats,
            detail=f"transfer #{transfer.pk} ({transfer.status}) {transfer.txid} {where}",
        )


# What a run found: a run that scanned nothing and found what its wallet's last run found is no news.
_OUTCOME = (
    "confirmation_depth",
    "height",
    "block_hash",
    "utxo_count",
    "chain_balance_sats",
    "final_balance_sats",
    "ledger_balance_sats",
    "discrepancy_count",
)


class _NothingNew(Exception):
    """Undoes, inside its transaction, a run that scanned and found nothing new."""


def _nothing_new(run: ReconciliationRun, previous: ReconciliationRun) -> bool:
    counts = (run.blocks_scanned, run.reorgs, run.matched_count, run.observed_count, run.finalized_count)
    return (
        not any(counts)
        and not Discrepancy.objects.filter(run=run).exists()
        and all(getattr(run, name) == getattr(previous, name) for name in _OUTCOME)
    )


def _reconcile(
    *, wallet: Wallet, source: ChainSource, trigger: str, task_id: str, progress: ProgressCallback | None
) -> ReconciliationRun:
    run = reconciliation_run_start(wallet=wallet, trigger=trigger, task_id=task_id)
    try:
        result = wallet_scan(wallet=wallet, source=source, run=run, progress=progress)
        run.height, run.block_hash = result.tip_height, result.tip_hash
        run.blocks_scanned, run.reorgs = result.blocks_scanned, result.reorgs
        run.matched_count, run.observed_count = result.bookings.matched, result.bookings.observed
        _compare(run=run, wallet=wallet, source=source, height=result.tip_height)
        run.discrepancy_count = Discrepancy.objects.filter(wallet=wallet, status=DiscrepancyStatus.OPEN).count()
        run.status = RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
    except Exception as error:
        logger.exception("reconciliation of wallet %s failed", wallet.name)
        _finish_failed(run, error)
        raise
    return run


def _tip_unmoved(*, wallet: Wallet, source: ChainSource, previous: ReconciliationRun) -> bool:
    """Does the node's tip still stand where the wallet's last run, a success, left it? A long
    scan thus never runs in one transaction, and keeps its progress visible."""
    cursor = ScanCursor.objects.filter(wallet=wallet).first()
    if previous.status != RunStatus.SUCCEEDED or cursor is None or cursor.booking_block_hash:
        return False  # (bookings left half done are finished by a run of their own)
    if (cursor.height, cursor.block_hash) != (previous.height, previous.block_hash):
        return False
    try:
        return source.block_count() == cursor.height
    except NodeUnavailable:
        return False  # the run that follows records the failure


def wallet_reconcile(
    *,
    wallet: Wallet,
    source: ChainSource,
    trigger: str = "command",
    task_id: str = "",
    progress: ProgressCallback | None = None,
) -> ReconciliationRun:
    """Scan `wallet` to the node's tip and reconcile it there; the run row records the outcome,
    failures included (the error is re-raised after it is recorded). A run that scans no block
    and finds what the wallet's last run found leaves no row: it moves the wallet's
    `ScanCursor.checked_at` and returns that last run, so a year of per-minute runs stays readable."""
    previous = wallet.reconciliation_runs.order_by("-started_at", "-id").first()
    if previous is None or not _tip_unmoved(wallet=wallet, source=source, previous=previous):
        run = _reconcile(wallet=wallet, source=source, trigger=trigger, task_id=task_id, progress=progress)
    else:
        # In one transaction (a block or two at most arrived since the tip was asked), so a run
        # with nothing new is undone whole; one that fails is recorded again once the
        # transaction rolled back (failed runs always keep their row).
        try:
            with transaction.atomic():
                run = _reconcile(wallet=wallet, source=source, trigger=trigger, task_id=task_id, progress=progress)
                if _nothing_new(run, previous):
                    raise _NothingNew
        except _NothingNew:
            run = previous
        except Exception as error:
            _finish_failed(reconciliation_run_start(wallet=wallet, trigger=trigger, task_id=task_id), error)
            raise
    ScanCursor.objects.filter(wallet=wallet).update(checked_at=timezone.now())
    return run


def _adjustments_account() -> Any:
    return account_create(code=ADJUSTMENTS_ACCOUNT, name="Reconciliation adjustments", account_type=AccountType.EQUITY)


def _adjustment_funds_check(wallet: Wallet, sats: int) -> None:
    """Refuse (409, naming adjustment_sats) a write-off the wallet's available balance cannot take,
    in words that name the wallet and the approved transfers whose reservations hold the rest."""
    available, funds = wallet_funds_text(wallet)
    if sats > available:
        message = f"{funds}; the adjustment takes {btc_text(sats)} BTC."
        raise Conflict(message, fields={"adjustment_sats": [message]}, code="insufficient_funds")


def discrepancy_resolve(
    *, discrepancy: Discrepancy, reason: str, actor: Any, adjustment_sats: int | None = None
) -> Discrepancy:
    """Close a discrepancy with the operator's reason. `adjustment_sats` (positive: the wallet
    holds more than the books; negative: less) posts an audited ledger adjustment against
    equity:reconciliation-adjustments, and the wallet is reconciled again."""
    require_permission(actor, "resolve_discrepancy", action="resolve a discrepancy")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed.for_field("reason", "say why the discrepancy is resolved")
    if adjustment_sats is not None:
        if not isinstance(adjustment_sats, int) or isinstance(adjustment_sats, bool) or adjustment_sats == 0:
            raise ValidationFailed.for_field("adjustment_sats", "must be a non-zero whole number of satoshis")
        check_sats(sats=abs(adjustment_sats), field="adjustment_sats")
    with transaction.atomic():
        locked = Discrepancy.objects.select_for_update().select_related("wallet").get(pk=discrepancy.pk)
        if locked.status != DiscrepancyStatus.OPEN:
            raise Conflict(
                f"discrepancy {locked.pk} is already {locked.status}", fields={"status": [f"is {locked.status}"]}
            )
        before = snapshot(locked)
        if adjustment_sats is not None and adjustment_sats < 0:
            _adjustment_funds_check(locked.wallet, -adjustment_sats)
        if adjustment_sats is not None:
            wallet_account = locked.wallet.ledger_account
            locked.adjustment = post_transaction(
                idempotency_key=f"reserve:discrepancy:{locked.pk}:adjustment",
                entries=[
                    EntrySpec(account=wallet_account, amount_sats=adjustment_sats),
                    EntrySpec(account=_adjustments_account(), amount_sats=-adjustment_sats),
                ],
                kind="reconciliation_adjustment",
                memo=f"Reconciliation adjustment for discrepancy #{locked.pk} ({locked.kind}): {reason.strip()}",
                metadata={"discrepancy_id": locked.pk, "reason": reason.strip()},
                txid=locked.txid or None,
                block_height=locked.block_height,
                created_by=actor,
            )
            outbox_enqueue(task_name=RECONCILE_TASK, args=[locked.wallet_id])
        locked.status = DiscrepancyStatus.RESOLVED
        locked.resolution_reason = reason.strip()
        locked.resolved_by = actor
        locked.resolved_at = timezone.now()
        locked.save()
        audit_record(actor=actor, action="discrepancy.resolve", instance=locked, before=before, after=snapshot(locked))
    return locked
