"""Transactional outbox: a task a write asks for is a row of the write's own transaction,
sent to Celery after commit and, if that fails (Redis down, crash), by the sweeper later."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery, current_app
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reserve.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)


def outbox_enqueue(
    *, task_name: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None
) -> OutboxMessage:
    """Store the message in the current transaction; it is sent once that transaction commits."""
    message = OutboxMessage.objects.create(task_name=task_name, args=args or [], kwargs=kwargs or {})
    transaction.on_commit(lambda: outbox_send(message_id=message.pk))
    return message


def outbox_send(*, message_id: int, app: Celery | None = None) -> str:
    """Publish one stored message unless it went already (or another sender holds it).
    Returns "sent", "skipped" or "failed"; a failure is recorded and left for the sweeper."""
    app = app or current_app
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, dispatched_at__isnull=True)
            .first()
        )
        if message is None:
            return "skipped"
        now = timezone.now()
        try:
            # No publish retries: a broker that is down must not hold this transaction open.
            app.send_task(message.task_name, args=message.args, kwargs=message.kwargs, retry=False)
        except Exception as error:  # noqa: BLE001 - any broker failure leaves the message for the sweeper
            logger.warning("outbox message %s (%s) not sent: %s", message.pk, message.task_name, error)
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=F("attempts") + 1, last_attempt_at=now, last_error=f"{type(error).__name__}: {error}"[:2000]
            )
            return "failed"
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1, last_attempt_at=now, dispatched_at=now, last_error=""
        )
        return "sent"


def outbox_dispatch(*, app: Celery | None = None, limit: int = 500, keep: timedelta = timedelta(days=7)) -> int:
    """The sweeper: send waiting messages, oldest first, until the broker fails, and forget those
    sent more than `keep` ago; returns how many went."""
    OutboxMessage.objects.filter(dispatched_at__lt=timezone.now() - keep).delete()
    waiting = OutboxMessage.objects.filter(dispatched_at__isnull=True).order_by("pk")
    sent = 0
    for message_id in list(waiting.values_list("pk", flat=True)[:limit]):
        outcome = outbox_send(message_id=message_id, app=app)
        if outcome == "failed":
            break  # the broker is down: the next sweep tries again
        sent += outcome == "sent"
    return sent
