"""Movements of reserve bitcoin, their approvals, and the counterparties outside the perimeter."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from ledger.amounts import MAX_SATS
from ledger.models import JournalTransaction, PendingTransaction
from reserve.custody.models import Counterparty, Wallet


class TransferDirection(models.TextChoices):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class TransferStatus(models.TextChoices):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    FINAL = "final"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REORGED = "reorged"


class Transfer(models.Model):
    direction = models.CharField(max_length=16, choices=TransferDirection.choices)
    # A code of the governed vocabulary in force (policy.Category); the database refuses any other
    # (reserve/sql/0030_transfer_category_governed.sql).
    category = models.CharField(max_length=32)
    provenance_reference = models.CharField(
        max_length=255, blank=True, help_text="Court order, purchase contract, mining site, ..."
    )
    memo = models.TextField(blank=True)
    amount_sats = models.BigIntegerField()
    fee_sats = models.BigIntegerField(default=0)
    source_wallet = models.ForeignKey(
        Wallet, null=True, blank=True, on_delete=models.PROTECT, related_name="outgoing_transfers"
    )
    destination_wallet = models.ForeignKey(
        Wallet, null=True, blank=True, on_delete=models.PROTECT, related_name="incoming_transfers"
    )
    external_address = models.CharField(max_length=100, blank=True)
    counterparty = models.ForeignKey(
        Counterparty, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    fiat_value = models.DecimalField(max_digits=24, decimal_places=2, null=True, blank=True)
    fiat_currency = models.CharField(max_length=3, blank=True)
    txid = models.CharField(max_length=64, blank=True)
    vout = models.PositiveIntegerField(null=True, blank=True)
    block_height = models.PositiveIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=24, choices=TransferStatus.choices, default=TransferStatus.DRAFT)
    status_reason = models.TextField(blank=True)
    observed = models.BooleanField(default=False, help_text="Seen on chain without having been proposed")
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="proposed_transfers"
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    request_hash = models.CharField(max_length=64, blank=True)
    required_approvals = models.PositiveSmallIntegerField(default=2)
    required_role = models.CharField(max_length=64, default="approver")
    policy_preview = models.JSONField(null=True, blank=True, help_text="The policy decision at proposal")
    pending = models.OneToOneField(
        PendingTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    journal_transaction = models.ForeignKey(
        JournalTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversal_transaction = models.ForeignKey(
        JournalTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="When it happened on chain (block time)")
    created_at = models.DateTimeField(db_default=Now())
    proposed_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Rejected, cancelled, failed or reorged at")
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("propose_transfer", "Can draft and propose transfers"),
            ("approve_transfer", "Can approve or reject transfers"),
            ("execute_transfer", "Can record broadcast, confirmation, reorgs and observed movements"),
            ("import_transfers", "Can import historical transfers"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0, amount_sats__lte=MAX_SATS), name="reserve_transfer_amount_range"
            ),
            models.CheckConstraint(
                condition=Q(fee_sats__gte=0, fee_sats__lte=MAX_SATS), name="reserve_transfer_fee_range"
            ),
            # What leaves a wallet (amount and fee together) fits the supply too.
            models.CheckConstraint(
                condition=Q(amount_sats__lte=MAX_SATS - models.F("fee_sats")), name="reserve_transfer_total_range"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=TransferDirection.values), name="reserve_transfer_direction_valid"
            ),
            models.CheckConstraint(condition=Q(status__in=TransferStatus.values), name="reserve_transfer_status_valid"),
            # Which ends a direction has: inbound lands in one of ours, outbound leaves one of
            # ours for an outside address or counterparty, internal moves between two of ours.
            models.CheckConstraint(
                condition=(
                    Q(direction="inbound", source_wallet__isnull=True, destination_wallet__isnull=False)
                    | (
                        Q(direction="outbound", source_wallet__isnull=False, destination_wallet__isnull=True)
                        & (~Q(external_address="") | Q(counterparty__isnull=False))
                    )
                    | (
                        Q(
                            direction="internal",
                            source_wallet__isnull=False,
                            destination_wallet__isnull=False,
                            external_address="",
                            counterparty__isnull=True,
                        )
                        & ~Q(source_wallet=models.F("destination_wallet"))
                    )
                ),
                name="reserve_transfer_ends_match_direction",
            ),
            models.CheckConstraint(
                condition=Q(fiat_value__isnull=True, fiat_currency="")
                | Q(fiat_value__isnull=False, fiat_value__gte=0, fiat_currency__regex=r"^[A-Z]{3}$"),
                name="reserve_transfer_fiat_valuation",
            ),
            models.CheckConstraint(
                condition=Q(txid="") | Q(txid__regex=r"^[0-9a-f]{64}$"), name="reserve_transfer_txid_format"
            ),
            models.CheckConstraint(
                condition=Q(block_hash="") | Q(block_hash__regex=r"^[0-9a-f]{64}$"),
                name="reserve_transfer_block_hash_format",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["confirmed", "final"])
                | (~Q(txid="") & Q(block_height__isnull=False) & Q(journal_transaction__isnull=False)),
                name="reserve_transfer_confirmed_has_chain_and_posting",
            ),
            models.CheckConstraint(
                condition=~Q(status="broadcast") | ~Q(txid=""), name="reserve_transfer_broadcast_has_txid"
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="reserve_transfer_status"),
            models.Index(fields=["txid"], name="reserve_transfer_txid"),
            # A reorg finds what the dropped blocks booked by their hashes.
            models.Index(fields=["block_hash"], name="reserve_transfer_block_hash"),
            models.Index(fields=["occurred_at"], name="reserve_transfer_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.direction} {self.category} {self.amount_sats} sats ({self.status})"


class ApprovalDecision(models.TextChoices):
    APPROVE = "approve"
    REJECT = "reject"


class Approval(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfer_approvals")
    decision = models.CharField(max_length=16, choices=ApprovalDecision.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "approver"], name="reserve_approval_once_per_approver"),
            models.CheckConstraint(
                condition=Q(decision__in=ApprovalDecision.values), name="reserve_approval_decision_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver_id} {self.decision} transfer {self.transfer_id}"
