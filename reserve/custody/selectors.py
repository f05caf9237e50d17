"""Reads of custody: the one place that says which agency held a wallet and whether it counted in
the perimeter at a point in time (the approved membership then in force).

A membership is in force from its `effective_from` (inclusive; None = since the beginning of the
wallet's books) until the wallet's next approved membership takes effect. Everything that asks
"was this wallet in the perimeter / in this agency then" asks here: the policy facts, the
holdings reports, the policy's view of a transfer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from reserve.custody.models import MembershipStatus, WalletMembership


@dataclass(frozen=True)
class Membership:
    wallet_id: int
    agency_id: int
    in_perimeter: bool
    effective_from: datetime | None  # None: since the beginning of the wallet's books
    effective_until: datetime | None  # None: still in force

    def in_force_at(self, at: datetime) -> bool:
        return (self.effective_from is None or self.effective_from <= at) and (
            self.effective_until is None or at < self.effective_until
        )

    def inside(self, kind: str, object_id: int | None) -> bool:
        """Whether this membership puts the wallet inside a scope ("perimeter", "agency", "wallet")."""
        if kind == "perimeter":
            return self.in_perimeter
        if kind == "agency":
            return self.agency_id == object_id
        return self.wallet_id == object_id


def _approved(wallet_ids: Collection[int] | None) -> QuerySet[WalletMembership]:
    rows = WalletMembership.objects.filter(status=MembershipStatus.APPROVED)
    return rows if wallet_ids is None else rows.filter(wallet_id__in=list(wallet_ids))


def membership_history(*, wallet_ids: Collection[int] | None = None) -> dict[int, list[Membership]]:
    """wallet id -> its approved memberships in the order they took effect, each with its end."""
    history: dict[int, list[Membership]] = {}
    rows = _approved(wallet_ids).order_by("wallet_id", F("effective_from").asc(nulls_first=True), "id")
    for wallet_id, agency_id, in_perimeter, effective_from in rows.values_list(
        "wallet_id", "agency_id", "in_perimeter", "effective_from"
    ):
        periods = history.setdefault(wallet_id, [])
        if periods:
            periods[-1] = replace(periods[-1], effective_until=effective_from)
        periods.append(Membership(wallet_id, agency_id, in_perimeter, effective_from, None))
    return history


def membership_at(*, at: datetime | None = None, wallet_ids: Collection[int] | None = None) -> dict[int, Membership]:
    """wallet id -> the membership in force at `at` (None: now), for the wallets asked about (None: all)."""
    moment = at or timezone.now()
    return {
        wallet_id: period
        for wallet_id, periods in membership_history(wallet_ids=wallet_ids).items()
        for period in periods
        if period.in_force_at(moment)
    }


def scope_periods(*, kind: str, object_id: int | None) -> list[Membership]:
    """Every stretch of time during which some wallet was inside the scope (perimeter, one agency, one wallet)."""
    wallet_ids = [int(object_id or 0)] if kind == "wallet" else None
    return [
        period
        for periods in membership_history(wallet_ids=wallet_ids).values()
        for period in periods
        if period.inside(kind, object_id)
    ]


def membership_then(*, wallet: str, when: str, attribute: str) -> Subquery:
    """SQL for one attribute ("agency_id", "in_perimeter") of the membership of the wallet in the
    outer query's column `wallet`, in force at its column (or annotation) `when`; NULL without a wallet."""
    return Subquery(
        WalletMembership.objects.filter(wallet_id=OuterRef(wallet), status=MembershipStatus.APPROVED)
        .filter(Q(effective_from__isnull=True) | Q(effective_from__lte=OuterRef(when)))
        .order_by(F("effective_from").desc(nulls_last=True))
        .values(attribute)[:1]
    )
