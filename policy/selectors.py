"""Reads: versions in force, dry-run evaluation, quorum, rules in words, compliance report, the
category vocabulary in force."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet

from config.errors import ValidationFailed
from config.replica import read_alias
from policy.evaluation import evaluate_change
from policy.facts import PolicyFacts
from policy.models import Category, Policy, PolicyBreach, PolicyVersion
from policy.permissions import APPROVE_VERSION, user_may
from policy.rules import parse_rules
from policy.rules.base import Rule, RuleContext, VersionRules
from policy.rules.obligations import ReportingObligation
from policy.types import Decision, FiledReport, PolicyScope, ProposedChange, Verdict

APPROVED = (PolicyVersion.Status.ACTIVE, PolicyVersion.Status.RETIRED)
# Approvals (of its content, by others than its author) that make a draft active; the
# database's version guard (policy/sql/0004_policy_approval_guards.sql) asks the same.
VERSION_QUORUM = 2


def version_content_sha256(*, version_id: int) -> str:
    """The hash of a version's content as stored now, by the database's one recipe
    (`policy_version_content_sha256`, policy/sql/0004_policy_approval_guards.sql)."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT policy_version_content_sha256(v) FROM policy_policyversion v WHERE v.id = %s", [version_id]
        )
        row = cursor.fetchone()
    if row is None:
        raise PolicyVersion.DoesNotExist(f"policy version {version_id}")
    return str(row[0])


def version_approvals_of_content(*, version: PolicyVersion) -> int:
    """Approvers other than the author whose approval names the version's current content."""
    digest = version_content_sha256(version_id=version.pk)
    return (
        version.approvals.exclude(approver_id=version.author_id)
        .filter(content_sha256=digest)
        .values("approver_id")
        .distinct()
        .count()
    )


def category_codes() -> frozenset[str]:
    """The codes of the terms in force (active), built-in and approved alike."""
    return frozenset(Category.objects.filter(status=Category.Status.ACTIVE).values_list("code", flat=True))


def involuntary_category_codes() -> frozenset[str]:
    """The terms in force for what came in without the reserve acting (dust, gifts, forks)."""
    active = Category.objects.filter(status=Category.Status.ACTIVE, involuntary=True)
    return frozenset(active.values_list("code", flat=True))


def category_choices() -> list[tuple[str, str]]:
    """(code, "code: description") for every term in force, for a form's select."""
    active = Category.objects.filter(status=Category.Status.ACTIVE).order_by("code")
    return [(category.code, f"{category.code}: {category.description}") for category in active]


# The transfer direction each kind of term refuses: an inflow source never leaves the reserve, an
# outflow reason never brings coins in. The database holds the same pairs
# (reserve/sql/0095_transfer_category_direction.sql); tests/reserve/transfers/test_category_direction.py
# holds the two to each other for every term and direction.
KIND_REFUSES_DIRECTION: dict[str, str] = {Category.Kind.INFLOW: "outbound", Category.Kind.OUTFLOW: "inbound"}


def category_check(code: object, *, field: str = "category", direction: str | None = None) -> str:
    """`code` when it is a term in force (and, given a `direction`, one its kind allows there);
    else a ValidationFailed naming `field`."""
    kinds = dict(Category.objects.filter(status=Category.Status.ACTIVE).values_list("code", "kind"))
    if not isinstance(code, str) or code not in kinds:
        raise ValidationFailed.for_field(field, f"must be an approved category: {', '.join(sorted(kinds))}")
    if direction is not None and KIND_REFUSES_DIRECTION.get(kinds[code]) == direction:
        raise ValidationFailed.for_field(
            field, f"{code} is an {kinds[code]} category: it cannot be used on an {direction} transfer"
        )
    return code


def category_approvals_of_content(*, category: Category) -> int:
    """Approvers other than the author whose approval names the term's current content."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(
            """
            SELECT count(DISTINCT a.approver_id) FROM policy_categoryapproval a JOIN policy_category c
                ON c.id = a.category_id
             WHERE c.id = %s AND a.approver_id IS DISTINCT FROM c.author_id
               AND a.content_sha256 = policy_category_content_sha256(c)
            """,
            [category.pk],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def categories_awaiting_decision(*, user: Any) -> QuerySet[Category]:
    """The draft terms `user` could approve: none for one without the approval permission, and
    never their own or one they have approved already."""
    if not user_may(user, APPROVE_VERSION):
        return Category.objects.none()
    return (
        Category.objects.filter(status=Category.Status.DRAFT)
        .exclude(author_id=user.pk)
        .exclude(approvals__approver_id=user.pk)
    )


@dataclass(frozen=True)
class UnboundVersion:
    """An approved version whose content is no longer what its approvals approved."""

    version_id: int
    policy: str
    version: int
    content_sha256: str
    approvals_of_content: int


def policy_versions_unbound() -> list[UnboundVersion]:
    """Approved versions (active, retired) with fewer than VERSION_QUORUM approvals of their
    current content: their rules were changed behind the database's back. Empty when intact.
    One statement over every version (no query per version)."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(
            """
            SELECT v.id, p.name, v.version, h.digest,
                   count(DISTINCT a.approver_id) FILTER (WHERE a.content_sha256 = h.digest
                                                          AND a.approver_id <> v.author_id)
            FROM policy_policyversion v
            JOIN policy_policy p ON p.id = v.policy_id
            CROSS JOIN LATERAL (SELECT policy_version_content_sha256(v) AS digest) h
            LEFT JOIN policy_policyversionapproval a ON a.version_id = v.id
            WHERE v.status <> 'draft'
            GROUP BY v.id, p.name, v.version, h.digest
            HAVING count(DISTINCT a.approver_id) FILTER (WHERE a.content_sha256 = h.digest
                                                          AND a.approver_id <> v.author_id) < %s
            ORDER BY v.id
            """,
            [VERSION_QUORUM],
        )
        return [UnboundVersion(int(a), str(b), int(c), str(d), int(e)) for a, b, c, d, e in cursor.fetchall()]


def _scope_filter(scopes: Iterable[PolicyScope], prefix: str = "") -> Q | None:
    condition: Q | None = None
    for scope in scopes:
        clause = Q(**{f"{prefix}scope_kind": scope.kind, f"{prefix}scope_object_id": scope.object_id})
        condition = clause if condition is None else condition | clause
    return condition


def policy_scopes_governed(*, scopes: Sequence[PolicyScope]) -> list[PolicyScope]:
    """The scopes among `scopes` that some policy governs or may soon govern, in lock order.

    A policy counts from its first draft: its activation takes the scope lock, so a posting
    that locked the scope is judged wholly before or wholly after it; were only approved
    versions counted, a first activation could commit between this read and the read of the
    versions in force, and the posting would apply a cap without holding its lock.
    """
    condition = _scope_filter(scopes)
    if condition is None:
        return []
    policies = Policy.objects.filter(condition)
    return sorted({policy.scope for policy in policies}, key=lambda scope: scope.sort_key)


def versions_in_force(*, scopes: Sequence[PolicyScope] | None, at: datetime) -> list[PolicyVersion]:
    """Per policy over `scopes` (every policy for None), the approved version with the highest
    number whose period contains `at` (effective_from inclusive, effective_to exclusive); none
    where that version is a retirement."""
    condition = Q() if scopes is None else _scope_filter(scopes, prefix="policy__")
    if condition is None:
        return []
    candidates = (
        PolicyVersion.objects.filter(condition, status__in=APPROVED, effective_from__lte=at)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=at))
        .select_related("policy")
        .order_by("policy_id", "-version")
    )
    in_force: dict[int, PolicyVersion] = {}
    for version in candidates:
        in_force.setdefault(version.policy_id, version)
    return [version for version in in_force.values() if version.kind == PolicyVersion.Kind.RULES]


def version_rules(version: PolicyVersion) -> VersionRules:
    return VersionRules(
        policy_id=version.policy_id,
        version_id=version.pk,
        version=version.version,
        name=version.policy.name,
        scope=version.policy.scope,
        effective_from=version.effective_from,
        effective_to=version.effective_to,
        # Stored rules were checked against the vocabulary when drafted; its terms are permanent.
        rules=parse_rules(version.rules, effective_from=version.effective_from, vocabulary=None),
    )


def policy_evaluate(
    *, change: ProposedChange, facts: PolicyFacts, versions: Sequence[PolicyVersion] | None = None
) -> Decision:
    """Dry run: the decision on `change`, storing nothing. Without `versions`, the versions in
    force at `change.at` for the scopes it touches; with them (e.g. a draft), exactly those."""
    if versions is None:
        versions = versions_in_force(scopes=change.scopes(), at=change.at)
    return evaluate_change(change=change, facts=facts, versions=[version_rules(version) for version in versions])


def policy_quorum(
    *, change: ProposedChange, facts: PolicyFacts, versions: Sequence[PolicyVersion] | None = None
) -> tuple[int, str]:
    """(approvals needed, role) for `change`: the strictest approval_quorum tier in force plus
    any extra approvals a rule asks for; 2 from approver when no quorum rule applies."""
    decision = policy_evaluate(change=change, facts=facts, versions=versions)
    return decision.required_approvals, decision.required_role


def policy_version_rules_in_words(*, version: PolicyVersion) -> list[str]:
    if version.kind == PolicyVersion.Kind.RETIREMENT:
        return [f"Retires the policy {version.policy.name} from {version.effective_from.isoformat()}."]
    rules = parse_rules(version.rules, effective_from=version.effective_from, vocabulary=None)
    return [rule.describe() for rule in rules]


@dataclass(frozen=True)
class ComplianceRow:
    """One continuous rule at one point: the end of a day (`kind="day"`, with the worst margin
    and verdict over that day) or a block where holdings changed (`kind="change"`)."""

    policy_id: int
    version_id: int
    version: int
    rule_index: int
    rule_type: str
    kind: str
    day: date
    at: datetime
    block_height: int | None
    measured_sats: int | None
    limit_sats: int | None
    margin_sats: int | None
    verdict: Verdict
    worst_margin_sats: int | None
    reason: str
    breaches: tuple[int, ...] = ()
    # A reporting obligation's standing that day: status (due, met, overdue), deadline, met_by.
    obligation: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Sample:
    at: datetime
    block_height: int | None
    kind: str


def _margin(measured: int | None, limit: int | None) -> int | None:
    return None if measured is None or limit is None else limit - measured


def _worst(margins: Iterable[int | None]) -> int | None:
    known = [margin for margin in margins if margin is not None]
    return min(known) if known else None


def _samples(*, scope: PolicyScope, since: datetime, until: datetime, facts: PolicyFacts) -> list[_Sample]:
    """The state at `since`, after every holdings change, and at the end of every day."""
    samples = [_Sample(since, None, "start")]
    samples += [
        _Sample(at, height, "change") for at, height, _ in facts.holdings_changes(scope=scope, since=since, until=until)
    ]
    day = since.astimezone(UTC).date()
    while (day_start := datetime.combine(day, time(), tzinfo=UTC)) < until:
        day_end = min(day_start + timedelta(days=1), until) - timedelta(microseconds=1)
        samples.append(_Sample(day_end, None, "day"))
        day += timedelta(days=1)
    return sorted(samples, key=lambda sample: (sample.at, sample.kind == "day"))


def _day_row(
    policy: Policy, version: VersionRules, index: int, rule: Rule, sample: _Sample, *, verdict: Verdict, reason: str
) -> ComplianceRow:
    """The end-of-day row of a rule that has no measured holdings (it judges movements or
    duties): only its verdict and reason."""
    assert version.version_id is not None and version.version is not None
    return ComplianceRow(
        policy_id=policy.pk,
        version_id=version.version_id,
        version=version.version,
        rule_index=index,
        rule_type=rule.type_name,
        kind="day",
        day=sample.at.astimezone(UTC).date(),
        at=sample.at,
        block_height=None,
        measured_sats=None,
        limit_sats=None,
        margin_sats=None,
        verdict=verdict,
        worst_margin_sats=None,
        reason=reason,
    )


def _movement_day_row(
    policy: Policy, version: VersionRules, index: int, rule: Rule, sample: _Sample, found: tuple[int, ...]
) -> ComplianceRow:
    """A day of a rule that judges movements rather than a state: breached on the days a
    movement nobody proposed broke it."""
    if not found:
        reason = "No movement nobody proposed broke the rule this day."
    elif len(found) == 1:
        reason = "1 movement nobody proposed broke the rule this day."
    else:
        reason = f"{len(found)} movements nobody proposed broke the rule this day."
    row = _day_row(policy, version, index, rule, sample, verdict="deny" if found else "allow", reason=reason)
    return replace(row, breaches=found)


def _obligation_day_row(
    policy: Policy,
    version: VersionRules,
    index: int,
    rule: ReportingObligation,
    sample: _Sample,
    facts: PolicyFacts,
    reports: list[FiledReport],
) -> ComplianceRow:
    """The end of a day of a reporting obligation: due, met (by which report) or overdue (a deny),
    judged among `reports` (read once for the whole period, not once a day)."""
    assert version.version_id is not None
    snapshot = ProposedChange(direction="internal", category="other", amount_sats=0, at=sample.at, observed=True)
    context = RuleContext(change=snapshot, facts=facts, version=version, rule_index=index)
    line, standing = rule.standing_among(context, reports)
    row = _day_row(policy, version, index, rule, sample, verdict=line.verdict, reason=line.reason)
    return replace(row, obligation=standing.to_json())


def policy_compliance_report(
    *, version_or_policy: Policy | PolicyVersion, since: datetime, until: datetime, facts: PolicyFacts
) -> list[ComplianceRow]:
    """Each continuous rule of the policy (or of one version) over [since, until): a row at
    every holdings change and one per UTC day with its worst margin, verdict and breaches.
    A rule that also judges observed movements (no disposal) has a row per day with the
    breaches opened that day; a reporting obligation a row per day with its standing.
    Rules that judge only proposed transfers (limits, allowlist, quorum...) have nothing to report."""
    if until <= since:
        raise ValidationFailed.for_field("until", "must be after since")
    if isinstance(version_or_policy, PolicyVersion):
        policy = version_or_policy.policy
        versions = [version_or_policy]
    else:
        policy = version_or_policy
        versions = list(policy.versions.filter(status__in=APPROVED).order_by("version"))
    parsed = {version.pk: version_rules(version) for version in versions if version.kind == PolicyVersion.Kind.RULES}

    def in_force(at: datetime) -> VersionRules | None:
        chosen = None
        for version in versions:
            if version.effective_from <= at and (version.effective_to is None or at < version.effective_to):
                chosen = version
        return None if chosen is None else parsed.get(chosen.pk)

    breaches: dict[tuple[int, int, date], list[int]] = {}
    for breach in PolicyBreach.objects.filter(
        version__in=versions, occurred_at__gte=since, occurred_at__lt=until
    ).order_by("occurred_at", "pk"):
        breach_key = (breach.version_id, breach.rule_index, breach.occurred_at.astimezone(UTC).date())
        breaches.setdefault(breach_key, []).append(breach.pk)

    rows: list[ComplianceRow] = []
    reports: dict[tuple[int, int], list[FiledReport]] = {}
    day_worst: dict[tuple[int, int], list[int | None]] = {}
    day_denied: dict[tuple[int, int], bool] = {}
    for sample in _samples(scope=policy.scope, since=since, until=until, facts=facts):
        version = in_force(sample.at)
        if version is None or version.version_id is None or version.version is None:
            continue
        snapshot = ProposedChange(
            direction="internal",
            category="other",
            amount_sats=0,
            at=sample.at,
            block_height=sample.block_height,
            observed=True,
        )
        for index, rule in enumerate(version.rules):
            if isinstance(rule, ReportingObligation):
                if sample.kind == "day":
                    key = (version.version_id, index)
                    if key not in reports:
                        context = RuleContext(change=snapshot, facts=facts, version=version, rule_index=index)
                        reports[key] = rule.reports_read(context, until=until)
                    rows.append(_obligation_day_row(policy, version, index, rule, sample, facts, reports[key]))
                continue
            if not rule.continuous:
                if rule.judges_observed and sample.kind == "day":
                    found = tuple(breaches.get((version.version_id, index, sample.at.astimezone(UTC).date()), ()))
                    rows.append(_movement_day_row(policy, version, index, rule, sample, found))
                continue
            line = rule.evaluate(RuleContext(change=snapshot, facts=facts, version=version, rule_index=index))
            key = (version.version_id, index)
            margin = _margin(line.measured_sats, line.limit_sats)
            day_worst.setdefault(key, []).append(margin)
            day_denied[key] = day_denied.get(key, False) or line.verdict == "deny"
            if sample.kind == "start":
                continue
            day = sample.at.astimezone(UTC).date()
            is_day = sample.kind == "day"
            rows.append(
                ComplianceRow(
                    policy_id=policy.pk,
                    version_id=version.version_id,
                    version=version.version,
                    rule_index=index,
                    rule_type=rule.type_name,
                    kind=sample.kind,
                    day=day,
                    at=sample.at,
                    block_height=sample.block_height,
                    measured_sats=line.measured_sats,
                    limit_sats=line.limit_sats,
                    margin_sats=margin,
                    verdict="deny" if is_day and day_denied[key] else line.verdict,
                    worst_margin_sats=_worst(day_worst[key]) if is_day else margin,
                    reason=line.reason,
                    breaches=tuple(breaches.get((version.version_id, index, day), ())) if is_day else (),
                )
            )
            if is_day:
                # The state at the end of a day is where the next day starts.
                day_worst[key] = [margin]
                day_denied[key] = line.verdict == "deny"
    return sorted(rows, key=lambda row: (row.version, row.rule_index, row.at, row.kind == "day"))
