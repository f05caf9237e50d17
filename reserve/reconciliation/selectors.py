"""Reads of reconciliation: open discrepancies, runs and what the follower holds per wallet."""

from __future__ import annotations

from django.db.models import QuerySet

from reserve.reconciliation.models import Discrepancy, DiscrepancyStatus


def open_discrepancies() -> QuerySet[Discrepancy]:
    return Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).select_related("wallet")
