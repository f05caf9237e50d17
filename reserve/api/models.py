"""What the API answered to a write sent with an `Idempotency-Key`, so a retry gets the same answer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class ApiIdempotencyKey(models.Model):
    """One key per user: the request it was first used for (hash) and the response given."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="reserve_api_idempotency_unique_per_user"),
            models.CheckConstraint(condition=~Q(key=""), name="reserve_api_idempotency_key_present"),
            models.CheckConstraint(
                condition=Q(request_hash__regex=r"^[0-9a-f]{64}$"), name="reserve_api_idempotency_hash_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} -> {self.status_code}"
