"""The Celery app: configured once from Django settings (namespace CELERY)."""

import os

from celery import Celery

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
