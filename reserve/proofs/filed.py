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
from reserve.custody.selectors import membership_history
from reserve.proofs.models import PeriodAttestation, ReserveProof
from reserve.proofs.statements import statement_signature_valid

PERIMETER = PolicyScope("perimeter")


class _ScopeWallets:
    """The names of the wallets inside one scope at a time, from one read of the membership history
    and the wallet names (not one per statement)."""

    def __init__(self, scope: PolicyScope) -> None:
        self.scope = scope
        self.history = membership_history(wallet_ids=[int(scope.object_id or 0)] if scope.kind == "wallet" else None)
        self.names = dict(Wallet.objects.filter(pk__in=list(self.history)).values_list("pk", "name"))

    def at(self, moment: datetime) -> set[str]:
        return {
            self.names[wallet_id]
            for wallet_id, periods in self.history.items()
            if any(
                period.in_force_at(moment) and period.inside(self.scope.kind, self.scope.object_id)
                for period in periods
            )
        }


def statement_covers(statement: dict[str, Any], *, inside: set[str] | None) -> bool:
    """Whether a signed holdings statement accounts for all of a scope's holdings: the perimeter
    (`inside` None) when it says so, else when it covered every wallet named in `inside`."""
    if inside is None:
        return statement.get("covers_perimeter") is True
    covered = {row.get("wallet") for row in statement.get("wallets", []) if row.get("covered") is True}
    return bool(inside) and inside <= covered


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
        wallets = None if scope.kind == "perimeter" else _ScopeWallets(scope)
        reports += [
            FiledReport("holdings_statement", pk, at, height)
            for pk, at, height, statement, signature in statements
            if statement is not None
            and statement_signature_valid(statement, signature)
            and statement_covers(statement, inside=None if wallets is None else wallets.at(at))
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
