"""Periodic ledger jobs for Celery beat: expire reservations, refresh as-of checkpoints, seal the log."""

from __future__ import annotations

from celery import shared_task

from ledger.log.sealer import seal_log
from ledger.services import ledger_checkpoint_refresh, pending_expire


@shared_task(name="ledger.pending_expire_task", acks_late=True)
def pending_expire_task() -> int:
    return pending_expire()


@shared_task(name="ledger.checkpoint_refresh_task", acks_late=True)
def checkpoint_refresh_task() -> int:
    return ledger_checkpoint_refresh()


@shared_task(name="ledger.seal_log_task", acks_late=True, ignore_result=True)
def seal_log_task() -> int:
    """One sealing round (beat runs it every LEDGER_LOG_SEAL_SECONDS; rounds serialize on the sealer lock)."""
    return seal_log().sealed
