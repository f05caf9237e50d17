"""Holdings over time of a scope (the perimeter, an agency, a wallet) with the caps in force that
govern it: what the dashboard's and a wallet page's chart draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from policy.models import Policy
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.selectors import CapStatus, policy_cap_status
from reserve.custody.models import Wallet

DEFAULT_DAYS = 180


@dataclass(frozen=True)
class HoldingsChart:
    title: str
    since: datetime
    until: datetime
    # (time, holdings in sats from then on), the first at `since`
    points: list[tuple[datetime, int]]
    caps: list[CapStatus] = field(default_factory=list)


def holdings_chart(
    *, scope: PolicyScope, title: str, caps: list[CapStatus], until: datetime | None = None, days: int = DEFAULT_DAYS
) -> HoldingsChart:
    """The scope's holdings from `days` before `until` (default now) to `until`, with `caps` (the
    continuous rules in force that govern it) to draw against them."""
    until = until or timezone.now()
    since = until - timedelta(days=days)
    facts = ReservePolicyFacts()
    points = [(since, facts.holdings_sats(scope=scope, at=since))]
    points += [(at, sats) for at, _height, sats in facts.holdings_changes(scope=scope, since=since, until=until)]
    return HoldingsChart(title=title, since=since, until=until, points=points, caps=caps)


def scopes_governing(wallet: Wallet) -> set[str]:
    """The scope labels whose policies govern `wallet` as it stands: its own, its agency's, the perimeter's."""
    labels = {PolicyScope("wallet", wallet.pk).label, PolicyScope("agency", wallet.agency_id).label}
    if wallet.in_perimeter:
        labels.add(PolicyScope("perimeter").label)
    return labels


def wallet_holdings_chart(*, wallet: Wallet) -> HoldingsChart:
    governing = scopes_governing(wallet)
    caps = [cap for cap in policy_cap_status() if cap.scope in governing and cap.limit_sats is not None]
    return holdings_chart(scope=PolicyScope("wallet", wallet.pk), title=f"{wallet.name} holdings", caps=caps)


def dashboard_holdings_charts() -> list[HoldingsChart]:
    """The perimeter's holdings, then one chart per scope that a cap in force governs, against its caps."""
    caps = [cap for cap in policy_cap_status() if cap.limit_sats is not None]
    scopes = {policy.name: policy.scope for policy in Policy.objects.filter(name__in={cap.policy_name for cap in caps})}
    by_scope: dict[PolicyScope, list[CapStatus]] = {}
    for cap in caps:
        by_scope.setdefault(scopes[cap.policy_name], []).append(cap)
    perimeter = PolicyScope("perimeter")
    charts = [holdings_chart(scope=perimeter, title="Perimeter holdings", caps=by_scope.pop(perimeter, []))]
    for scope, scoped in sorted(by_scope.items(), key=lambda item: item[0].sort_key):
        charts.append(holdings_chart(scope=scope, title=scoped[0].policy_name, caps=scoped))
    return charts
