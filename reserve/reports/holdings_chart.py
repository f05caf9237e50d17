"""Holdings over time of a scope (the perimeter, an agency, a wallet) with the caps that govern it
as each was in force over that time (a cap a new policy version changed is a step): what the
dashboard's and a wallet page's chart draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from policy.models import Policy, PolicyVersion
from policy.selectors import APPROVED
from policy.types import PolicyScope
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.selectors import policy_cap_status
from reserve.custody.models import Wallet

DEFAULT_DAYS = 180


@dataclass(frozen=True)
class CapLine:
    """One continuous rule of a policy over the chart's span: (time, its limit in sats from then
    on, None while no version in force had it), the first at the chart's `since`."""

    policy_name: str
    rule_type: str
    steps: list[tuple[datetime, int | None]]

    @property
    def limit_sats(self) -> int | None:
        """The limit at the chart's end (today's, for a chart that ends now)."""
        return self.steps[-1][1]


@dataclass(frozen=True)
class HoldingsChart:
    title: str
    since: datetime
    until: datetime
    # (time, holdings in sats from then on), the first at `since`
    points: list[tuple[datetime, int]]
    caps: list[CapLine] = field(default_factory=list)


def cap_lines(*, policy_names: set[str], since: datetime, until: datetime, times: list[datetime]) -> list[CapLine]:
    """The limits of the named policies' continuous rules as they stood at `since`, at each of
    `times` and wherever a version of theirs starts or ends in between, judged by the same
    selector as today's caps (`policy_cap_status`, as of each time)."""
    edges = PolicyVersion.objects.filter(policy__name__in=policy_names, status__in=APPROVED).values_list(
        "effective_from", "effective_to"
    )
    moments = {since, *times} | {edge for pair in edges for edge in pair if edge is not None and since < edge <= until}
    steps: dict[tuple[str, str], list[tuple[datetime, int | None]]] = {}
    for at in sorted(moment for moment in moments if since <= moment <= until):
        limits = {
            (cap.policy_name, cap.rule_type): cap.limit_sats
            for cap in policy_cap_status(at=at)
            if cap.policy_name in policy_names and cap.limit_sats is not None
        }
        for key in limits.keys() - steps.keys():
            steps[key] = [(since, None)]
        for key, line in steps.items():
            limit = limits.get(key)
            if line[-1][1] != limit:
                line.append((at, limit))
    return [
        CapLine(policy_name=name, rule_type=rule_type, steps=line[1:] if line[1][0] == since else line)
        for (name, rule_type), line in sorted(steps.items())
    ]


def holdings_chart(
    *, scope: PolicyScope, title: str, policy_names: set[str], until: datetime | None = None, days: int = DEFAULT_DAYS
) -> HoldingsChart:
    """The scope's holdings from `days` before `until` (default now) to `until`, with the caps of
    `policy_names` (the policies that govern it) as they were in force."""
    until = until or timezone.now()
    since = until - timedelta(days=days)
    facts = ReservePolicyFacts()
    points = [(since, facts.holdings_sats(scope=scope, at=since))]
    points += [(at, sats) for at, _height, sats in facts.holdings_changes(scope=scope, since=since, until=until)]
    caps = cap_lines(policy_names=policy_names, since=since, until=until, times=[at for at, _ in points[1:]])
    return HoldingsChart(title=title, since=since, until=until, points=points, caps=caps)


def scopes_governing(wallet: Wallet) -> set[str]:
    """The scope labels whose policies govern `wallet` as it stands: its own, its agency's, the perimeter's."""
    labels = {PolicyScope("wallet", wallet.pk).label, PolicyScope("agency", wallet.agency_id).label}
    if wallet.in_perimeter:
        labels.add(PolicyScope("perimeter").label)
    return labels


def wallet_holdings_chart(*, wallet: Wallet) -> HoldingsChart:
    governing = scopes_governing(wallet)
    names = {policy.name for policy in Policy.objects.all() if policy.scope.label in governing}
    return holdings_chart(scope=PolicyScope("wallet", wallet.pk), title=f"{wallet.name} holdings", policy_names=names)


def dashboard_holdings_charts() -> list[HoldingsChart]:
    """The perimeter's holdings, then one chart per scope that a cap in force governs, against its policies' caps."""
    names = {cap.policy_name for cap in policy_cap_status() if cap.limit_sats is not None}
    by_scope: dict[PolicyScope, set[str]] = {}
    for policy in Policy.objects.filter(name__in=names):
        by_scope.setdefault(policy.scope, set()).add(policy.name)
    perimeter = PolicyScope("perimeter")
    charts = [holdings_chart(scope=perimeter, title="Perimeter holdings", policy_names=by_scope.pop(perimeter, set()))]
    for scope, scoped in sorted(by_scope.items(), key=lambda item: item[0].sort_key):
        charts.append(holdings_chart(scope=scope, title=", ".join(sorted(scoped)), policy_names=scoped))
    return charts
