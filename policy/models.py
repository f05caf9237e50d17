"""Versioned policies, their approvals, the evaluations that gated transitions, and breaches."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from policy.types import GATES, OUTCOMES, SCOPE_KINDS, PolicyScope


class Policy(models.Model):
    """A named set of rules over one scope; what it says lives in its versions."""

    name = models.CharField(max_length=200, unique=True)
    scope_kind = models.CharField(max_length=16, choices=[(kind, kind) for kind in SCOPE_KINDS])
    scope_object_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "policies"
        permissions = [("retire_policy", "Can propose the retirement of a policy")]
        constraints = [
            models.CheckConstraint(
                name="policy_scope_object_matches_kind",
                condition=(Q(scope_kind="perimeter", scope_object_id__isnull=True))
                | (Q(scope_kind__in=["agency", "wallet"], scope_object_id__isnull=False)),
            ),
        ]
        indexes = [models.Index(fields=["scope_kind", "scope_object_id"], name="policy_scope_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.scope.label})"

    @property
    def scope(self) -> PolicyScope:
        return PolicyScope(self.scope_kind, self.scope_object_id)  # type: ignore[arg-type]

    @property
    def status(self) -> str:
        """draft until a version is approved, retired once a retirement is approved, else active."""
        approved = self.versions.exclude(status=PolicyVersion.Status.DRAFT)
        if approved.filter(kind=PolicyVersion.Kind.RETIREMENT).exists():
            return "retired"
        return "active" if approved.exists() else "draft"


class PolicyVersion(models.Model):
    """One version of a policy's rules, or the retirement of the policy from `effective_from`.

    Approved versions (active, retired) never change except retired-from-active: the
    database refuses it. At any time the approved version of a policy with the highest
    number whose period contains that time is in force; a retirement in force means none.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        RETIRED = "retired"

    class Kind(models.TextChoices):
        RULES = "rules"
        RETIREMENT = "retirement"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RULES)
    rules = models.JSONField(default=list)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy_id", "version"]
        permissions = [
            ("draft_policyversion", "Can draft a policy version"),
            ("approve_policyversion", "Can approve a policy version drafted by someone else"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique_number"),
            models.CheckConstraint(
                name="policy_version_period_ordered",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
            ),
            models.CheckConstraint(
                name="policy_version_approved_has_activation",
                condition=Q(status="draft") | Q(activated_at__isnull=False),
            ),
            models.CheckConstraint(
                name="policy_version_retirement_has_no_rules",
                condition=Q(kind="rules") | Q(rules=[]),
            ),
        ]
        indexes = [models.Index(fields=["status", "effective_from"], name="policy_version_status_idx")]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.version} ({self.status})"


class PolicyVersionApproval(models.Model):
    """An approval of a version by a holder of `policy.approve_policyversion` (append-only), bound to
    the hash of the content it approved; the database checks the approver and the hash."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    approved_at = models.DateTimeField(auto_now_add=True)
    # Filled by the database at insert (policy/sql/0004_policy_approval_guards.sql), which also
    # refuses a value other than the hash of the version's content as it stands.
    content_sha256 = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="SHA-256 of the version's content when approved (set by the database)",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "approver"], name="policy_version_approval_once"),
        ]

    def __str__(self) -> str:
        return f"approval of version {self.version_id} by user {self.approver_id}"


class PolicyEvaluation(models.Model):
    """A decision that gated a transition, with everything needed to re-explain it (append-only)."""

    gate = models.CharField(max_length=16, choices=[(gate, gate) for gate in GATES])
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=[(outcome, outcome) for outcome in OUTCOMES])
    change = models.JSONField()
    lines = models.JSONField()
    versions = models.JSONField(help_text="The versions applied: [{policy_id, version_id, version, name}]")
    required_approvals = models.PositiveSmallIntegerField()
    required_role = models.CharField(max_length=64)
    approvals_counted = models.PositiveSmallIntegerField()
    requested_at = models.DateTimeField(help_text="The time the caller asked about")
    evaluated_at = models.DateTimeField(help_text="The time judged: for live gates, when the scope locks were held")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="policy_evaluation_subject_idx"),
            models.Index(fields=["created_at"], name="policy_evaluation_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.gate} {self.subject_type}:{self.subject_id} -> {self.outcome}"


class PolicyBreach(models.Model):
    """A continuous rule found violated after the fact; open until resolved with a reason."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="breaches")
    rule_index = models.PositiveSmallIntegerField()
    rule_type = models.CharField(max_length=40)
    evaluation = models.ForeignKey(PolicyEvaluation, on_delete=models.PROTECT, related_name="breaches")
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()
    block_height = models.BigIntegerField(null=True, blank=True)
    measured_sats = models.BigIntegerField(null=True, blank=True)
    limit_sats = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    detected_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        permissions = [("resolve_policybreach", "Can resolve a policy breach with a reason")]
        constraints = [
            models.CheckConstraint(
                name="policy_breach_resolution_complete",
                condition=Q(status="open", resolved_at__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False, resolved_by__isnull=False) & ~Q(resolution_reason=""),
            ),
            # Re-detecting the same movement (a reconciliation re-run) opens no second breach.
            models.UniqueConstraint(
                fields=["version", "rule_index", "subject_type", "subject_id"],
                condition=~Q(subject_id=""),
                name="policy_breach_once_per_subject",
            ),
        ]
        indexes = [models.Index(fields=["status", "occurred_at"], name="policy_breach_status_idx")]

    def __str__(self) -> str:
        return f"{self.rule_type} breach ({self.status}) at {self.occurred_at:%Y-%m-%d %H:%M}"


class Category(models.Model):
    """A term of the governed vocabulary of transfer categories: an inflow source or an outflow
    reason, with its legal reference. Proposed by a policy administrator and in force (usable by
    transfers and rules) once approved like a policy version; the database keeps approved terms
    as they are (policy/sql/0005_policy_categories.sql). The built-in terms are seeded active."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"

    class Kind(models.TextChoices):
        INFLOW = "inflow"
        OUTFLOW = "outflow"
        INTERNAL = "internal"
        ANY = "any"

    code = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    legal_reference = models.CharField(max_length=255)
    description = models.TextField()
    involuntary = models.BooleanField(
        default=False, help_text="Received without the reserve acting (dust, donations): not voluntary accumulation"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # None only for the built-in terms the migration seeded.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(
                name="policy_category_code_form",
                condition=Q(code__regex=r"^[a-z][a-z0-9_]{1,31}$"),
                violation_error_message="a code is 2 to 32 lower-case letters, digits and _, starting with a letter",
            ),
            models.CheckConstraint(
                name="policy_category_kind_valid", condition=Q(kind__in=["inflow", "outflow", "internal", "any"])
            ),
            models.CheckConstraint(
                name="policy_category_active_has_activation",
                condition=Q(status="draft", activated_at__isnull=True) | Q(status="active", activated_at__isnull=False),
            ),
            models.CheckConstraint(
                name="policy_category_texts_present", condition=~Q(legal_reference="") & ~Q(description="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.kind}, {self.status})"


class CategoryApproval(models.Model):
    """An approval of a proposed category by a holder of `policy.approve_policyversion` other than
    its author (append-only), bound by the database to the hash of the content it approved."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(auto_now_add=True)
    content_sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "approver"], name="policy_category_approval_once"),
        ]

    def __str__(self) -> str:
        return f"approval of category {self.category_id} by user {self.approver_id}"
