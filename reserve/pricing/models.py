"""BTC prices in fiat currencies at points in time, with their source."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class PriceQuote(models.Model):
    """Price of 1 BTC in `currency` from `at` until the next quote (the quote in force)."""

    at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    price = models.DecimalField(max_digits=24, decimal_places=8)
    source = models.CharField(max_length=120)
    imported_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["currency", "-at"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "at", "source"], name="reserve_quote_unique"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="reserve_quote_currency_iso4217"),
            models.CheckConstraint(condition=Q(price__gt=0), name="reserve_quote_price_positive"),
            models.CheckConstraint(condition=~Q(source=""), name="reserve_quote_source_present"),
        ]
        indexes = [models.Index(fields=["currency", "at"], name="reserve_quote_in_force")]

    def __str__(self) -> str:
        return f"{self.currency} {self.price} at {self.at:%Y-%m-%d %H:%M} ({self.source})"
