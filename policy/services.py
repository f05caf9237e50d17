"""Writes: proposing and approving category terms; drafting, approving and retiring policy
versions; enforcing decisions at the gates of a transfer's life (under the scope locks);
detecting and resolving breaches.

The reads that gate transitions (`policy_evaluate`, `policy_quorum`,
`policy_compliance_report`) live in selectors and are re-exported here so that callers find
every entry point in one module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import Conflict, PermissionDenied, ValidationFailed
from config.replica import refuse_in_replica_reads
from config.transient import outermost
from policy.errors import PolicyDenied
from policy.evaluation import evaluate_change
from policy.facts import PolicyFacts
from policy.models import (
    Category,
    CategoryApproval,
    Policy,
    PolicyBreach,
    PolicyEvaluation,
    PolicyVersion,
    PolicyVersionApproval,
)
from policy.permissions import APPROVE_VERSION, DRAFT_VERSION, RESOLVE_BREACH, RETIRE_POLICY, user_may
from policy.rules import parse_rules
from policy.rules.base import RuleContext
from policy.rules.obligations import ReportingObligation
from policy.selectors import (
    APPROVED,
    VERSION_QUORUM,
    category_approvals_of_content,
    category_codes,
    policy_compliance_report,
    policy_evaluate,
    policy_quorum,
    policy_scopes_governed,
    version_approvals_of_content,
    version_rules,
    versions_in_force,
)
from policy.signals import category_awaits_approval, version_awaits_approval
from policy.types import GATES, Decision, PolicyScope, ProposedChange, RuleLine

__all__ = [
    "PolicyDenied",
    "category_approve",
    "category_propose",
    "policy_approve",
    "policy_breach_resolve",
    "policy_compliance_report",
    "policy_create_draft",
    "policy_detect",
    "policy_enforce",
    "policy_evaluate",
    "policy_gated_transaction",
    "policy_propose_retirement",
    "policy_quorum",
    "policy_record_denial",
]


def _require(user: Any, permission: str, *, field: str, action: str) -> None:
    """Refuse unless `user` holds `permission` (policy's own; see policy/permissions.py)."""
    if not user_may(user, permission):
        raise PermissionDenied.for_field(field, f"needs the permission {permission} to {action}")


def _aware(value: datetime | None, field: str) -> None:
    if value is not None and timezone.is_naive(value):
        raise ValidationFailed.for_field(field, "needs a time zone")


def lock_scopes(scopes: Sequence[PolicyScope]) -> None:
    """Transaction-scoped advisory locks, always taken in scope order so lockers never deadlock."""
    refuse_in_replica_reads("a policy scope lock")
    with connection.cursor() as cursor:
        for scope in sorted(set(scopes), key=lambda scope: scope.sort_key):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [scope.lock_key])


@transaction.atomic
def policy_create_draft(
    *,
    name: str,
    scope: PolicyScope,
    rules: list[dict[str, Any]],
    effective_from: datetime,
    effective_to: datetime | None = None,
    author: User,
    comment: str = "",
) -> PolicyVersion:
    """A new draft version of the policy called `name` (created on first use). Rules are
    validated and stored normalized; allowlist entries keep the date they were first listed."""
    _require(author, DRAFT_VERSION, field="author", action="draft a policy")
    if not name.strip():
        raise ValidationFailed.for_field("name", "is required")
    _aware(effective_from, "effective_from")
    _aware(effective_to, "effective_to")
    if effective_to is not None and effective_to <= effective_from:
        raise ValidationFailed.for_field("effective_to", "must be after effective_from")
    policy, _ = Policy.objects.select_for_update().get_or_create(
        name=name.strip(), defaults={"scope_kind": scope.kind, "scope_object_id": scope.object_id}
    )
    if policy.scope != scope:
        raise ValidationFailed.for_field("scope", f"the policy {policy.name} governs {policy.scope.label}")
    previous = policy.versions.filter(status__in=APPROVED, kind=PolicyVersion.Kind.RULES).order_by("-version").first()
    previous_rules = (
        parse_rules(previous.rules, effective_from=previous.effective_from, vocabulary=None)
        if previous is not None
        else ()
    )
    parsed = parse_rules(
        rules, effective_from=effective_from, previous_rules=previous_rules, vocabulary=category_codes()
    )
    version = PolicyVersion.objects.create(
        policy=policy,
        version=_next_version(policy),
        rules=[rule.to_json() for rule in parsed],
        effective_from=effective_from,
        effective_to=effective_to,
        author=author,
        comment=comment,
    )
    version_awaits_approval.send(sender=PolicyVersion, version=version)
    return version


@transaction.atomic
def category_propose(
    *, code: str, kind: str, legal_reference: str, description: str, involuntary: bool = False, author: User
) -> Category:
    """A new term as a draft; in force once approved by two policy administrators other than `author`."""
    if not user_may(author, DRAFT_VERSION):
        raise PermissionDenied.for_field("author", f"needs the permission {DRAFT_VERSION} to propose a category")
    values = {"code": code.strip(), "legal_reference": legal_reference.strip(), "description": description.strip()}
    for name, value in values.items():
        if not value:
            raise ValidationFailed.for_field(name, "is required")
    if kind not in Category.Kind.values:
        raise ValidationFailed.for_field("kind", f"must be one of: {', '.join(Category.Kind.values)}")
    category = Category(kind=kind, involuntary=involuntary, author=author, **values)
    try:
        category.full_clean(exclude=["author"], validate_unique=False)
    except ValidationError as error:
        fields = {name: [str(message) for message in messages] for name, messages in error.message_dict.items()}
        if "__all__" in fields:
            fields["code"] = fields.pop("__all__")
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields) from None
    if Category.objects.filter(code=category.code).exists():
        raise Conflict.for_field("code", f"the category {category.code} exists already")
    category.save()
    category_awaits_approval.send(sender=Category, category=category)
    return category


@transaction.atomic
def category_approve(*, category: Category, approver: User) -> Category:
    """Record an approval bound to the term's content; with VERSION_QUORUM of them the term is in force."""
    category = Category.objects.select_for_update().get(pk=category.pk)
    if category.status != Category.Status.DRAFT:
        raise Conflict.for_field("category", f"is {category.status}, not a draft")
    if approver.pk == category.author_id:
        raise PermissionDenied.for_field("approver", "the author cannot approve their own category")
    if not user_may(approver, APPROVE_VERSION):
        raise PermissionDenied.for_field("approver", f"needs the permission {APPROVE_VERSION} to approve a category")
    if category.approvals.filter(approver=approver).exists():
        raise Conflict.for_field("approver", "has already approved this category")
    CategoryApproval.objects.create(category=category, approver=approver)
    if category_approvals_of_content(category=category) >= VERSION_QUORUM:
        category.status = Category.Status.ACTIVE
        category.activated_at = timezone.now()
        category.save(update_fields=["status", "activated_at"])
    return category


def _next_version(policy: Policy) -> int:
    latest = policy.versions.order_by("-version").values_list("version", flat=True).first()
    return (latest or 0) + 1


@transaction.atomic
def policy_propose_retirement(
    *, policy: Policy, effective_from: datetime, author: User, comment: str = ""
) -> PolicyVersion:
    """A draft that ends the policy from `effective_from`; approved like any version."""
    _require(author, RETIRE_POLICY, field="author", action="propose a retirement")
    _aware(effective_from, "effective_from")
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if not policy.versions.filter(status=PolicyVersion.Status.ACTIVE, kind=PolicyVersion.Kind.RULES).exists():
        raise Conflict.for_field("policy", "has no active version to retire")
    version = PolicyVersion.objects.create(
        policy=policy,
        version=_next_version(policy),
        kind=PolicyVersion.Kind.RETIREMENT,
        rules=[],
        effective_from=effective_from,
        author=author,
        comment=comment,
    )
    version_awaits_approval.send(sender=PolicyVersion, version=version)
    return version


@transaction.atomic
def policy_approve(*, version: PolicyVersion, approver: User, comment: str = "") -> PolicyVersion:
    """Record an approval (by a holder of `policy.approve_policyversion`), bound to the hash of
    the version's content; with two approvals of that content by others than the author the
    version becomes active (a retirement then retires the policy's
    earlier versions)."""
    version = PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)
    if version.status != PolicyVersion.Status.DRAFT:
        raise Conflict.for_field("version", f"is {version.status}, not a draft")
    if approver.pk == version.author_id:
        raise PermissionDenied.for_field("approver", "the author cannot approve their own version")
    _require(approver, APPROVE_VERSION, field="approver", action="approve a policy")
    if version.approvals.filter(approver=approver).exists():
        raise Conflict.for_field("approver", "has already approved this version")
    # The database stamps the approval with the hash of the content as it stands (and checks
    # the approver's permission again); only approvals of the current content count.
    PolicyVersionApproval.objects.create(version=version, approver=approver, comment=comment)
    if version_approvals_of_content(version=version) < VERSION_QUORUM:
        return version
    # Activation waits for postings in flight on the scope, so each sees one version or the other.
    lock_scopes([version.policy.scope])
    version.status = PolicyVersion.Status.ACTIVE
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "activated_at"])
    if version.kind == PolicyVersion.Kind.RETIREMENT:
        version.policy.versions.filter(
            status=PolicyVersion.Status.ACTIVE, kind=PolicyVersion.Kind.RULES, version__lt=version.version
        ).update(status=PolicyVersion.Status.RETIRED)
    return version


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return value


def _evaluation_record(
    *, change: ProposedChange, requested_at: datetime, decision: Decision, versions: Sequence[PolicyVersion], gate: str
) -> PolicyEvaluation:
    return PolicyEvaluation(
        gate=gate,
        subject_type=change.subject_type,
        subject_id=change.subject_id,
        outcome=decision.outcome,
        change=_json_ready(dataclasses.asdict(change)),
        lines=_json_ready([dataclasses.asdict(line) for line in decision.lines]),
        versions=[
            {
                "policy_id": version.policy_id,
                "version_id": version.pk,
                "version": version.version,
                "name": version.policy.name,
                "scope": version.policy.scope.label,
            }
            for version in versions
        ],
        required_approvals=decision.required_approvals,
        required_role=decision.required_role,
        approvals_counted=decision.approvals_counted,
        requested_at=requested_at,
        evaluated_at=change.at,
    )


def _enforce(
    *, change: ProposedChange, facts: PolicyFacts, gate: str, as_of_change: bool = False
) -> tuple[Decision, PolicyEvaluation]:
    refuse_in_replica_reads(f"the policy's {gate} gate")
    if gate not in GATES:
        raise ValidationFailed.for_field("gate", f"must be one of: {', '.join(GATES)}")
    if change.observed != (gate == "observed"):
        raise ValidationFailed.for_field("gate", "observed movements go through the observed gate, and only they")
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("policy_enforce must run inside the caller's transaction.atomic()")
    requested_at = change.at
    if gate != "observed":
        # An observed movement is already booked and nothing is being admitted, so detection
        # takes no lock: callers detect after posting (balances locked first), and taking the
        # scope lock there would invert the posting order (scope, then balances) and deadlock.
        lock_scopes(policy_scopes_governed(scopes=change.scopes()))
    if gate != "observed" and not as_of_change:
        # A live gate judges the reserve as it stands now that the locks are held: a posting
        # committed by whoever held them before is in the facts, whatever its timestamps
        # (block times may run ahead of the clock).
        change = dataclasses.replace(change, at=timezone.now())
    versions = versions_in_force(scopes=change.scopes(), at=change.at)
    decision = evaluate_change(
        change=change,
        facts=facts,
        versions=[version_rules(version) for version in versions],
        current=gate != "observed" and not as_of_change,
    )
    return decision, _evaluation_record(
        change=change, requested_at=requested_at, decision=decision, versions=versions, gate=gate
    )


def policy_enforce(*, change: ProposedChange, facts: PolicyFacts, gate: str, as_of_change: bool = False) -> Decision:
    """Judge `change` at a gate ("proposal", "approval", "posting", "observed") and store the
    evaluation. Must run inside the caller's `transaction.atomic()`: a live gate takes an
    advisory lock on every governed scope the change touches (held to commit, taken in scope
    order), so concurrent postings against one cap are judged one after the other, each
    seeing the ones before.

    A refusal raises `PolicyDenied` without writing: at "posting" anything but `allow`, at
    "proposal" and "approval" a `deny` (a proposal the policy denies is refused, not queued).
    The caller's transaction rolls back and the evaluation is recorded after it (use
    `policy_gated_transaction()` as the transition's atomic block and that happens by itself).

    `as_of_change=True` judges a historical change (an imported row) at its own time: the
    versions in force at `change.at` and the facts as of then, still under the scope locks.
    """
    decision, evaluation = _enforce(change=change, facts=facts, gate=gate, as_of_change=as_of_change)
    refused = decision.outcome != "allow" if gate == "posting" else decision.outcome == "deny"
    if refused and gate != "observed":
        raise PolicyDenied(decision=decision, evaluation=evaluation)
    evaluation.save()
    return decision


def policy_record_denial(*, denied: PolicyDenied) -> PolicyEvaluation:
    """Store the evaluation of a refused transition, once its transaction has rolled back
    (again if a savepoint that stored it rolled back later; never twice)."""
    record = denied.evaluation
    if record.pk is not None and not PolicyEvaluation.objects.filter(pk=record.pk).exists():
        record.pk = None
        record._state.adding = True
    if record.pk is None:
        record.save()
    return record


@contextmanager
def policy_gated_transaction() -> Iterator[None]:
    """`transaction.atomic()` for a transition gated by `policy_enforce`: if the policy refuses,
    the work rolls back and, when this was the outermost transaction, the evaluation is then
    stored. Inside another transaction the record travels with the `PolicyDenied` to whoever
    ends that transaction (`PolicyDenied.settle()`), since a rollback there would take it along."""
    try:
        with transaction.atomic():
            yield
    except PolicyDenied as denied:
        if outermost():
            policy_record_denial(denied=denied)
        raise


@transaction.atomic
def policy_detect(*, change: ProposedChange, facts: PolicyFacts) -> list[PolicyBreach]:
    """Detective mode for a movement nobody proposed (already booked): re-check the continuous
    rules (and no disposal) at its block and open a breach per violated rule (one per movement and rule, so a
    re-run of reconciliation opens nothing new). Returns the breaches of this movement."""
    change = dataclasses.replace(change, observed=True)
    decision, evaluation = _enforce(change=change, facts=facts, gate="observed")
    evaluation.save()
    breaches: list[PolicyBreach] = []
    for line in decision.denials:
        if line.version_id is not None:
            breaches.append(_breach_for(change=change, line=line, evaluation=evaluation))
    return breaches


def _breach_for(*, change: ProposedChange, line: RuleLine, evaluation: PolicyEvaluation) -> PolicyBreach:
    """The open breach of this rule by this movement, opened now unless a detection already did."""
    same = {
        "version_id": line.version_id,
        "rule_index": line.rule_index,
        "subject_type": change.subject_type,
        "subject_id": change.subject_id,
    }
    if change.subject_id and (existing := PolicyBreach.objects.filter(**same).first()):
        return existing
    try:
        with transaction.atomic():
            return PolicyBreach.objects.create(
                **same,
                rule_type=line.rule_type,
                evaluation=evaluation,
                occurred_at=change.at,
                block_height=change.block_height,
                measured_sats=line.measured_sats,
                limit_sats=line.limit_sats,
                reason=line.reason,
            )
    except IntegrityError:
        # A concurrent detection of the same movement opened it first (detection takes no lock).
        return PolicyBreach.objects.get(**same)


OBLIGATION_SUBJECT = "obligation"


def obligations_overdue_record(*, facts: PolicyFacts, at: datetime) -> list[PolicyBreach]:
    """Open a breach for every reporting obligation of a version in force at `at` that is
    overdue then: one per duty (its deadline is the subject), so a rerun opens nothing new.
    Returns only the breaches this call opened (whoever opened one tells its readers)."""
    opened: list[PolicyBreach] = []
    for version in versions_in_force(scopes=None, at=at):
        rules = version_rules(version)
        for index, rule in enumerate(rules.rules):
            if not isinstance(rule, ReportingObligation):
                continue
            snapshot = ProposedChange(direction="internal", category="other", amount_sats=0, at=at, observed=True)
            line, standing = rule.standing(RuleContext(change=snapshot, facts=facts, version=rules, rule_index=index))
            if standing.status != "overdue":
                continue
            duty = standing.deadline.isoformat()
            same: dict[str, Any] = {"version_id": version.pk, "rule_index": index}
            same |= {"subject_type": OBLIGATION_SUBJECT, "subject_id": duty}
            if PolicyBreach.objects.filter(**same).exists():
                continue
            change = dataclasses.replace(snapshot, subject_type=OBLIGATION_SUBJECT, subject_id=duty)
            decision = Decision(outcome="deny", lines=(line,))
            try:
                with transaction.atomic():
                    evaluation = _evaluation_record(
                        change=change, requested_at=at, decision=decision, versions=[version], gate="observed"
                    )
                    evaluation.save()
                    opened.append(
                        PolicyBreach.objects.create(
                            **same, rule_type=rule.type_name, evaluation=evaluation, occurred_at=at, reason=line.reason
                        )
                    )
            except IntegrityError:
                continue  # a concurrent run opened it first (and tells its readers)
    return opened


@transaction.atomic
def policy_breach_resolve(*, breach: PolicyBreach, reason: str, actor: User) -> PolicyBreach:
    """Close an open breach with the reason it is settled (by a holder of `policy.resolve_policybreach`)."""
    _require(actor, RESOLVE_BREACH, field="actor", action="resolve a breach")
    if not reason.strip():
        raise ValidationFailed.for_field("reason", "say why the breach is resolved")
    breach = PolicyBreach.objects.select_for_update().get(pk=breach.pk)
    if breach.status != PolicyBreach.Status.OPEN:
        raise Conflict.for_field("breach", "is already resolved")
    breach.status = PolicyBreach.Status.RESOLVED
    breach.resolved_at = timezone.now()
    breach.resolved_by = actor
    breach.resolution_reason = reason.strip()
    breach.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_reason"])
    return breach
