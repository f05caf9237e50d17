"""Periodic ledger jobs for Celery beat: expire reservations, refresh as-of checkpoints."""

from __future__ import annotations

from celery import shared_task

from ledger.services import ledger_checkpoint_refresh, pending_expire


@shared_task(name="ledger.pending_expire_task", acks_late=True)
def pending_expire_task() -> int:
    return pending_expire()


@shared_task(name="ledger.checkpoint_refresh_task", acks_late=True)
def checkpoint_refresh_task() -> int:
    return ledger_checkpoint_refresh()
