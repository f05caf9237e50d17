"""The Celery app: configured once from Django settings (namespace CELERY)."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger

from config.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("reserve_ledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()


@app.task(name="config.ping_task")
def ping_task(value: str) -> dict[str, str]:
    """Round trip through the broker and a worker; used by health checks and tests."""
    return {"pong": value, "worker_pid": str(os.getpid())}


@after_setup_logger.connect
def one_line_per_task(**_: Any) -> None:
    """A task run is one line in the worker's log (its success or failure, from celery.app.trace),
    not also a "received" line before it (config/log_lines.py holds the same rule for the web)."""
    logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)
