"""The signed reports a reporting obligation counts: holdings statements that cover the
obligation's scope, and period attestations, each only if its signature is the service's.

What a statement covers is read from the signed statement itself, never from the row's columns
beside it (`covers_perimeter`, `wallets`), which the service's role can update: a statement
covers the perimeter when it says so, and an agency or a wallet when every wallet inside that
scope when the statement was made is among the wallets it says it covered."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from policy.types import FiledReport, PolicyScope
from reserve.custody.models import Wallet
from reserve.custody.selectors import membership_at
from reserve.proofs.models import PeriodAttestation, ReserveProof
from reserve.proofs.statements import statement_signature_valid

PERIMETER = PolicyScope("perimeter")


def statement_covers(statement: dict[str, Any], *, scope: PolicyScope, at: datetime) -> bool:
    """Whether a signed holdings statement made at `at` accounts for all of `scope`'s holdings."""
    if scope.kind == "perimeter":
        return statement.get("covers_perimeter") is True
    inside = [
        wallet_id
        for wallet_id, membership in membership_at(at=at).items()
        if membership.inside(scope.kind, scope.object_id)
    ]
    names = set(Wallet.objects.filter(pk__in=inside).values_list("name", flat=True))
    covered = {row.get("wallet") for row in statement.get("wallets", []) if row.get("covered") is True}
    return bool(names) and names <= covered


def reports_filed(
    *, kinds: Collection[str], since: datetime, until: datetime, scope: PolicyScope = PERIMETER
) -> list[FiledReport]:
    """`PolicyFacts.reports_filed`: the reports of `kinds` made in [since, until] that count for
    `scope`, in the order made."""
    reports: list[FiledReport] = []
    if "holdings_statement" in kinds:
        statements = ReserveProof.objects.filter(
            statement__isnull=False, created_at__gte=since, created_at__lte=until
        ).values_list("pk", "created_at", "block_height", "statement", "statement_signature")
        reports += [
            FiledReport("holdings_statement", pk, at, height)
            for pk, at, height, statement, signature in statements
            if statement is not None
            and statement_signature_valid(statement, signature)
            and statement_covers(statement, scope=scope, at=at)
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
