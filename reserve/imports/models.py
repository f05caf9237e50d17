"""An import is a proposal: the file's hash and every parsed row, held until the quorum approves it.

Rows, the file's hash, the kind and the proposer are immutable in PostgreSQL
(reserve/sql/0015_import_batches.sql): what an approver saw is what posts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class ImportKind(models.TextChoices):
    TRANSFERS = "transfers"
    LEDGER = "ledger"
    PRICES = "prices"


class ImportStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval"
    POSTED = "posted"
    REFUSED = "refused"  # the posting gate refused a row at the quorum: nothing posted
    REJECTED = "rejected"  # an approver said no


class ImportBatch(models.Model):
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    file_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the uploaded file's bytes (UTF-8)")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the stored rows, canonical JSON")
    filename = models.CharField(max_length=255, blank=True)
    proposer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_batches")
    status = models.CharField(max_length=24, choices=ImportStatus.choices, default=ImportStatus.PENDING_APPROVAL)
    required_approvals = models.PositiveSmallIntegerField(default=2)
    required_role = models.CharField(max_length=64, default="approver")
    refused_line = models.PositiveIntegerField(null=True, blank=True, help_text="CSV line the posting gate refused")
    refused_rule = models.CharField(max_length=64, blank=True)
    refused_reason = models.TextField(blank=True)
    evaluation = models.ForeignKey(
        "policy.PolicyEvaluation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.JSONField(default=dict, blank=True, help_text="What the posting created and left unchanged")
    created_at = models.DateTimeField(db_default=Now())
    # Set by the database on insert: the transaction that proposed it, the only one that may add rows.
    created_xid = models.BigIntegerField(null=True, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("import_ledger", "Can propose ledger CSV imports")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="reserve_importbatch_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="reserve_importbatch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(file_sha256__regex=r"^[0-9a-f]{64}$") & Q(content_hash__regex=r"^[0-9a-f]{64}$"),
                name="reserve_importbatch_hash_format",
            ),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} ({self.kind}, {self.file_sha256[:12]}…, {self.status})"


class ImportRow(models.Model):
    """One data line of the file as read (column -> cell text), by its line number in the file."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="rows")
    line = models.PositiveIntegerField()
    cells = models.JSONField()

    class Meta:
        ordering = ["batch", "line"]
        constraints = [models.UniqueConstraint(fields=["batch", "line"], name="reserve_importrow_once_per_line")]

    def __str__(self) -> str:
        return f"import #{self.batch_id} line {self.line}"


class ImportDecision(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"


class ImportApproval(models.Model):
    """An approver's decision on a batch, bound to the file hash they were shown."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_approvals")
    decision = models.CharField(max_length=16, choices=ImportDecision.choices)
    file_sha256 = models.CharField(max_length=64)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "approver"], name="reserve_importapproval_once_per_approver"),
            models.CheckConstraint(
                condition=Q(decision__in=ImportDecision.values), name="reserve_importapproval_decision_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver_id} {self.decision} import {self.batch_id}"
