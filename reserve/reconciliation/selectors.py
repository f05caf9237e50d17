"""Reads of reconciliation: the discrepancies that wait for an operator."""

from __future__ import annotations

from django.db.models import QuerySet

from reserve.reconciliation.models import Discrepancy, DiscrepancyStatus


def open_discrepancies() -> QuerySet[Discrepancy]:
    return Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).select_related("wallet")
