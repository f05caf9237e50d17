"""The transactional outbox: a task a write asks for, stored in the write's own transaction
until it is sent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class OutboxMessage(models.Model):
    """A Celery task a write asked for, stored in the write's transaction and sent after commit."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(task_name=""), name="reserve_outbox_task_present")]
        indexes = [
            models.Index(fields=["id"], condition=Q(dispatched_at__isnull=True), name="reserve_outbox_undispatched")
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk} ({'sent' if self.dispatched_at else 'waiting'})"
