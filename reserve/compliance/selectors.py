"""Reads of compliance for operators and auditors: headroom under the continuous policy caps,
open breaches, and the compliance report per rule over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from config.errors import ValidationFailed
from policy.models import Policy, PolicyBreach, PolicyEvaluation, PolicyVersion
from policy.permissions import DRAFT_VERSION, user_may
from policy.rules.base import RuleContext, VersionRules
from policy.rules.flows import TransferLimit, VelocityLimit
from policy.selectors import (
    APPROVED,
    ComplianceRow,
    policy_compliance_report,
    version_rules,
    versions_in_force,
)
from policy.types import PolicyScope, ProposedChange
from reserve.compliance.changes import transfer_change
from reserve.compliance.facts import ReportsReader, ReservePolicyFacts
from reserve.compliance.models import PLEDGE_STATUS_FILTERS, Pledge, PledgeStatus
from reserve.transfers.models import Transfer, TransferStatus

# Transfers that still have a gate ahead (an approval, the posting) where a new per-transfer limit would judge them.
IN_FLIGHT_STATUSES = (TransferStatus.PENDING_APPROVAL, TransferStatus.APPROVED)


@dataclass(frozen=True)
class CapStatus:
    """One continuous rule in force, judged against the books as they stand now."""

    policy_name: str
    version: int
    scope: str
    rule_type: str
    measured_sats: int | None
    limit_sats: int | None
    verdict: str
    reason: str

    @property
    def margin_sats(self) -> int | None:
        if self.measured_sats is None or self.limit_sats is None:
            return None
        return self.limit_sats - self.measured_sats

    @property
    def used_percent(self) -> int | None:
        if self.measured_sats is None or not self.limit_sats:
            return None
        return max(0, min(100, self.measured_sats * 100 // self.limit_sats))


def policy_cap_status(*, at: datetime | None = None) -> list[CapStatus]:
    """Every continuous rule (holdings cap, no net accumulation, ...) of the versions in force now
    (judged against the books as they stand) or at `at` (against the books as of then), with the
    measured holdings, the limit and the margin; nothing is stored."""
    scopes = [policy.scope for policy in Policy.objects.all()]
    facts = ReservePolicyFacts()
    return [
        status
        for version in versions_in_force(scopes=scopes, at=at or timezone.now())
        for status in _version_caps(version, at=at, facts=facts)
    ]


def _version_caps(version: PolicyVersion, *, at: datetime | None, facts: ReservePolicyFacts) -> list[CapStatus]:
    current = at is None
    at = at or timezone.now()
    snapshot = ProposedChange(direction="internal", category="other", amount_sats=0, at=at, observed=True)
    rules = version_rules(version)
    statuses = []
    for index, rule in enumerate(rules.rules):
        if not rule.continuous:
            continue
        line = rule.evaluate(
            RuleContext(change=snapshot, facts=facts, version=rules, rule_index=index, current=current)
        )
        statuses.append(
            CapStatus(
                policy_name=version.policy.name,
                version=version.version,
                scope=version.policy.scope.label,
                rule_type=line.rule_type,
                measured_sats=line.measured_sats,
                limit_sats=line.limit_sats,
                verdict=line.verdict,
                reason=line.reason,
            )
        )
    return statuses


def policy_draft_warnings(*, version: PolicyVersion) -> list[str]:
    """What a policy administrator should know before the draft is approved, though nothing
    forbids it: an effective date already past, a continuous limit the books already exceed, and
    a flow limit already exceeded in its current window (or by a transfer in flight)."""
    warnings = []
    if version.effective_from < timezone.now():
        warnings.append(
            f"effective_from {version.effective_from:%Y-%m-%d %H:%M} UTC lies in the past: once approved, the "
            "version governs from then on, and movements since then are judged by it in compliance reports"
        )
    facts = ReservePolicyFacts()
    for cap in _version_caps(version, at=None, facts=facts):
        if cap.measured_sats is not None and cap.limit_sats is not None and cap.measured_sats > cap.limit_sats:
            warnings.append(f"{cap.rule_type} is already exceeded by the current books: {cap.reason}")
    return warnings + _flow_limit_warnings(version_rules(version), facts=facts)


def _flow_limit_warnings(rules: VersionRules, *, facts: ReservePolicyFacts) -> list[str]:
    """Flow limits the books already break, each judged by the rule itself at a live gate now: a
    velocity limit whose current window has moved more than it allows (a change of nothing in its
    direction and categories), a per-transfer limit that a transfer still in flight exceeds."""
    now = timezone.now()
    warnings = []
    for index, rule in enumerate(rules.rules):
        if isinstance(rule, VelocityLimit):
            category = rule.categories[0] if rule.categories else "other"
            probe = _crossing(rules.scope, direction=rule.direction, category=category, at=now)
            line = rule.evaluate(RuleContext(change=probe, facts=facts, version=rules, rule_index=index, current=True))
            if line.verdict == "deny":
                warnings.append(f"velocity_limit is already exceeded in its current window by the books: {line.reason}")
        elif isinstance(rule, TransferLimit):
            for transfer in Transfer.objects.filter(status__in=IN_FLIGHT_STATUSES).order_by("pk"):
                change = transfer_change(transfer, at=now)
                line = rule.evaluate(
                    RuleContext(change=change, facts=facts, version=rules, rule_index=index, current=True)
                )
                if line.verdict == "deny":
                    warnings.append(
                        f"transfer_limit is already exceeded by transfer #{transfer.pk} ({transfer.status}), "
                        f"which it would refuse at its next gate: {line.reason}"
                    )
    return warnings


def _crossing(scope: PolicyScope, *, direction: str, category: str, at: datetime) -> ProposedChange:
    """A change of nothing that enters (inbound), leaves (outbound) or stays within (internal) `scope`."""
    source_in, destination_in = direction in ("outbound", "internal"), direction in ("inbound", "internal")

    def end(kind: str, inside: bool) -> int | None:
        return scope.object_id if scope.kind == kind and inside else None

    perimeter = scope.kind == "perimeter"
    return ProposedChange(
        direction=direction,
        category=category,
        amount_sats=0,
        at=at,
        source_in_perimeter=perimeter and source_in,
        destination_in_perimeter=perimeter and destination_in,
        source_agency_id=end("agency", source_in),
        destination_agency_id=end("agency", destination_in),
        source_wallet_id=end("wallet", source_in),
        destination_wallet_id=end("wallet", destination_in),
    )


def open_breaches() -> QuerySet[PolicyBreach]:
    return PolicyBreach.objects.filter(status=PolicyBreach.Status.OPEN).select_related("version__policy")


MAX_COMPLIANCE_DAYS = 366


def compliance_rows(
    *, since: datetime, until: datetime, policy: Policy | None = None, reports: ReportsReader | None = None
) -> list[tuple[Policy, ComplianceRow]]:
    """Per continuous rule, per day (and at each holdings change): holdings, limit, margin, verdict."""
    if until <= since:
        raise ValidationFailed.for_field("to", "must be after from")
    if until - since > timedelta(days=MAX_COMPLIANCE_DAYS):
        raise ValidationFailed.for_field("to", f"the period may span at most {MAX_COMPLIANCE_DAYS} days")
    policies = (
        [policy]
        if policy is not None
        else list(Policy.objects.filter(versions__status__in=APPROVED).distinct().order_by("pk"))
    )
    facts = ReservePolicyFacts(reports=reports)
    return [
        (chosen, row)
        for chosen in policies
        for row in policy_compliance_report(version_or_policy=chosen, since=since, until=until, facts=facts)
    ]


def transfer_policy_evaluations(*, transfer: Transfer) -> QuerySet[PolicyEvaluation]:
    return PolicyEvaluation.objects.filter(subject_type="reserve.transfer", subject_id=str(transfer.pk)).order_by(
        "created_at", "id"
    )


def pledges_awaiting_decision(*, user: Any) -> QuerySet[Pledge]:
    """The made pledges `user` could approve: none for one who may not decide on pledges, and never
    their own."""
    if not user_may(user, DRAFT_VERSION):
        return Pledge.objects.none()
    return Pledge.objects.filter(PLEDGE_STATUS_FILTERS[PledgeStatus.MADE]).exclude(made_by_id=user.pk)
