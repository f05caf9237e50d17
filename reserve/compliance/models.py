"""Facts the policy reads that no ledger holds: fiat totals (e.g. total public funds) by date."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class FiatTotal(models.Model):
    """A named fiat total as of a date, recorded by a policy administrator; the one in force at a
    time is the latest `as_of` at or before it (among equal dates, the last recorded). Append-only:
    a correction is a new record (the service role may not update or delete)."""

    name = models.SlugField(max_length=80)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=24, decimal_places=2)
    as_of = models.DateTimeField()
    reference = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["name", "-as_of", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="reserve_fiattotal_currency"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="reserve_fiattotal_amount_positive"),
            models.CheckConstraint(condition=~Q(reference=""), name="reserve_fiattotal_reference_present"),
        ]
        indexes = [models.Index(fields=["name", "as_of"], name="reserve_fiattotal_in_force")]

    def __str__(self) -> str:
        return f"{self.name}: {self.amount} {self.currency} as of {self.as_of:%Y-%m-%d}"
