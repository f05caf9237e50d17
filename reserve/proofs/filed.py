"""The signed reports a reporting obligation counts: holdings statements covering the perimeter
and period attestations, each only if its signature is the service's."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from policy.types import FiledReport
from reserve.proofs.models import PeriodAttestation, ReserveProof
from reserve.proofs.statements import statement_signature_valid


def reports_filed(*, kinds: Collection[str], since: datetime, until: datetime) -> list[FiledReport]:
    """`PolicyFacts.reports_filed`: the reports of `kinds` made in [since, until], in the order made."""
    reports: list[FiledReport] = []
    if "holdings_statement" in kinds:
        statements = ReserveProof.objects.filter(
            statement__isnull=False, covers_perimeter=True, created_at__gte=since, created_at__lte=until
        ).values_list("pk", "created_at", "block_height", "statement", "statement_signature")
        reports += [
            FiledReport("holdings_statement", pk, at, height)
            for pk, at, height, statement, signature in statements
            if statement is not None and statement_signature_valid(statement, signature)
        ]
    if "period_attestation" in kinds:
        attestations = PeriodAttestation.objects.filter(created_at__gte=since, created_at__lte=until).values_list(
            "pk", "created_at", "to_height", "statement", "statement_signature"
        )
        reports += [
            FiledReport("period_attestation", pk, at, height)
            for pk, at, height, statement, signature in attestations
            if statement_signature_valid(statement, signature)
        ]
    return sorted(reports, key=lambda report: (report.at, report.kind, report.report_id))
