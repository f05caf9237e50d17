"""The Celery beat schedule, in one place."""

import os
from typing import Any

from celery.schedules import crontab

# The environment variable behind settings.LEDGER_LOG_SEAL_SECONDS, read here directly: importing
# this module (config/celery.py, at `import config`) must not load the settings.
LOG_SEAL_SECONDS = float(os.environ.get("LEDGER_LOG_SEAL_SECONDS") or 1.0)

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "heartbeat": {"task": "config.ping_task", "schedule": 60.0, "args": ("beat",)},
    # Regtest and mainnet alike: blocks are polled; a run with nothing new costs two RPC calls per wallet.
    "reconcile-all-wallets": {"task": "reserve.reconcile_all_wallets_task", "schedule": 60.0},
    "outbox-dispatch": {"task": "reserve.outbox_dispatch_task", "schedule": 30.0},
    "ledger-pending-expire": {"task": "ledger.pending_expire_task", "schedule": 300.0},
    # A broadcast whose txid was recorded but whose node answer was lost (issue 13).
    "psbt-broadcasts-recover": {"task": "reserve.psbt_broadcasts_recover_task", "schedule": 60.0},
    # A reporting obligation past its deadline opens one breach per duty (issue 15).
    "obligations-overdue": {"task": "reserve.obligations_overdue_task", "schedule": crontab(minute=7)},
    "ledger-checkpoint-refresh": {"task": "ledger.checkpoint_refresh_task", "schedule": crontab(minute=17)},
    "ledger-seal-log": {"task": "ledger.seal_log_task", "schedule": LOG_SEAL_SECONDS},
}
