"""Celery tasks of the chain follower: the beat fan-out, one reconciliation per wallet under a
per-wallet lock, the outbox sweeper, and the recovery of interrupted broadcasts. Tasks take ids
and call services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from smtplib import SMTPException
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError, connection

from reserve.chain.errors import NodeUnavailable
from reserve.chain.rpc import RpcChainSource
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.obligations import obligations_overdue_check
from reserve.custody.models import Wallet
from reserve.notifications.webhook import WebhookFailed, webhook_post
from reserve.outbox.services import outbox_dispatch
from reserve.proofs.filed import reports_filed
from reserve.reconciliation.services import wallet_reconcile
from reserve.transfers.signing import psbt_broadcasts_recover

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def wallet_lock(wallet_id: int) -> Iterator[bool]:
    """A PostgreSQL session advisory lock per wallet: yields False when another run holds it.
    The server drops it with the holder's connection, so a killed worker never leaves it behind."""
    key = f"reserve:reconcile:wallet:{wallet_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def chain_source() -> RpcChainSource:
    return RpcChainSource.from_settings(
        timeout_seconds=settings.BITCOIN_RPC_TIMEOUT_SECONDS, retries=settings.BITCOIN_RPC_RETRIES
    )


@shared_task(name="reserve.reconcile_all_wallets_task", acks_late=True)
def reconcile_all_wallets_task() -> int:
    """Beat's fan-out: one reconciliation task per wallet on the configured network."""
    wallet_ids = list(
        Wallet.objects.filter(network=settings.BITCOIN_NETWORK).order_by("pk").values_list("pk", flat=True)
    )
    for wallet_id in wallet_ids:
        reconcile_wallet_task.delay(wallet_id)
    return len(wallet_ids)


@shared_task(
    bind=True,
    name="reserve.reconcile_wallet_task",
    acks_late=True,
    # The node unreachable, or the database gone or refusing for now (a deadlock with an
    # approval, a restart): the run resumes from the wallet's cursor.
    autoretry_for=(NodeUnavailable, OperationalError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=False,
    max_retries=10,
)
def reconcile_wallet_task(self: Task, wallet_id: int) -> dict[str, Any]:
    """Reconcile one wallet; runs of one wallet never overlap (a second one returns at once).
    Idempotent: every block's effects commit with the wallet's cursor, so a rerun resumes."""
    wallet = Wallet.objects.filter(pk=wallet_id).first()
    if wallet is None:
        return {"wallet_id": wallet_id, "skipped": "no such wallet"}
    with wallet_lock(wallet_id) as acquired:
        if not acquired:
            return {"wallet_id": wallet_id, "skipped": "a run of this wallet is in progress"}
        with chain_source() as source:
            run = wallet_reconcile(wallet=wallet, source=source, trigger="task", task_id=self.request.id or "")
    result: dict[str, Any] = {
        "wallet_id": wallet_id,
        "run_id": run.pk,
        "height": run.height,
        "chain_balance_sats": run.chain_balance_sats,
        "ledger_balance_sats": run.ledger_balance_sats,
        "discrepancies": run.discrepancy_count,
    }
    if run.task_id != (self.request.id or ""):
        # Nothing new since that run: no row of this task's own, the wallet's last checked time moved.
        result["unchanged_since_run"] = run.pk
    return result


@shared_task(name="reserve.outbox_dispatch_task", acks_late=True)
def outbox_dispatch_task() -> int:
    """The outbox sweeper: sends what commit-time dispatch could not (broker down, crash)."""
    return outbox_dispatch()


@shared_task(name="reserve.obligations_overdue_task", acks_late=True, autoretry_for=(OperationalError,), max_retries=5)
def obligations_overdue_task() -> list[int]:
    """Beat's check of the reporting obligations in force: a breach per duty newly overdue."""
    return [breach.pk for breach in obligations_overdue_check(facts=ReservePolicyFacts(reports=reports_filed))]


@shared_task(
    name="reserve.psbt_broadcasts_recover_task",
    acks_late=True,
    autoretry_for=(NodeUnavailable, OperationalError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=10,
)
def psbt_broadcasts_recover_task() -> list[int]:
    """Finish broadcasts whose txid was recorded but whose node answer was lost (a crash)."""
    with chain_source() as source:
        return psbt_broadcasts_recover(source=source)


@shared_task(
    name="reserve.notify_email_task",
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=10,
)
def notify_email_task(subject: str, body: str, recipients: list[str]) -> int:
    """Tell approvers something waits for them, through Django's mail settings."""
    return send_mail(subject, body, None, recipients)


@shared_task(
    name="reserve.notify_webhook_task",
    acks_late=True,
    autoretry_for=(WebhookFailed,),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=10,
)
def notify_webhook_task(payload: dict[str, Any]) -> int:
    """The signed approvers' webhook; a receiver that fails or cannot be reached is tried again."""
    return webhook_post(payload)
