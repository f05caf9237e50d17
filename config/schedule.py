"""The Celery beat schedule, in one place."""

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "heartbeat": {"task": "config.ping_task", "schedule": 60.0, "args": ("beat",)},
}
