"""Movements of reserve bitcoin, their approvals, and the counterparties outside the perimeter."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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
    # Specific identification: the lots (reserve.Lot ids) an outflow takes, in order; empty: oldest first (FIFO).
    lot_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
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


class InvoluntaryMarkStatus(models.TextChoices):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class InvoluntaryMark(models.Model):
    """A proposal to class an inflow nobody proposed (seen on chain) into an involuntary term (dust,
    a donation, a fork), which rules may exempt: it changes the transfer's category only once a
    second person approves it. PostgreSQL guards the maker-checker, keeps decided marks as they are
    and lets a transfer's category change only by an approved mark
    (reserve/sql/0120_involuntary_mark_approval.sql)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="involuntary_marks")
    category = models.CharField(max_length=64)
    reason = models.TextField()
    status = models.CharField(
        max_length=16, choices=InvoluntaryMarkStatus.choices, default=InvoluntaryMarkStatus.PROPOSED
    )
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(db_default=Now())
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["transfer_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=InvoluntaryMarkStatus.values), name="reserve_involuntarymark_status_valid"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="reserve_involuntarymark_reason_present"),
            # One open proposal per transfer: a second would be judged against a category the first changes.
            models.UniqueConstraint(
                fields=["transfer"], condition=Q(status="proposed"), name="reserve_involuntarymark_one_open"
            ),
            # A transfer is marked once: its category is then permanent like any other.
            models.UniqueConstraint(
                fields=["transfer"], condition=Q(status="approved"), name="reserve_involuntarymark_one_approved"
            ),
            models.CheckConstraint(
                condition=Q(status="proposed", decided_by__isnull=True, decided_at__isnull=True)
                | (
                    ~Q(status="proposed")
                    & Q(decided_by__isnull=False, decided_at__isnull=False)
                    & ~Q(decided_by=models.F("proposed_by"))
                ),
                name="reserve_involuntarymark_decided_by_another",
            ),
        ]

    def __str__(self) -> str:
        return f"transfer {self.transfer_id} as {self.category} ({self.status})"


# ---- signing: what the service builds for the custodians, and what they send back --------------


class PsbtStatus(models.TextChoices):
    BUILT = "built"  # waiting for signatures
    SIGNED = "signed"  # the threshold is met on every input
    BROADCASTING = "broadcasting"  # txid recorded, the node's answer not yet
    BROADCAST = "broadcast"
    SUPERSEDED = "superseded"  # the transfer failed or was cancelled; its coins went back


class BuiltPsbt(models.Model):
    """The unsigned PSBT the service built for an approved transfer, the signatures accepted so
    far (`combined`), and the txid it commits to. Custodians sign exactly this; anything else is
    refused (reserve/transfers/psbt_verify.py)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="psbts")
    unsigned = models.BinaryField(help_text="The PSBT (BIP-174 v0) as built, with every signer field")
    combined = models.BinaryField(default=b"", help_text="The built PSBT with every accepted signature")
    unsigned_tx = models.BinaryField(help_text="The unsigned transaction it commits to")
    txid = models.CharField(max_length=64)
    fee_sats = models.BigIntegerField()
    fee_rate_sat_per_kvb = models.PositiveBigIntegerField(help_text="Satoshis per 1000 virtual bytes")
    fee_rate_source = models.CharField(max_length=32, help_text="operator or estimatesmartfee")
    vsize = models.PositiveIntegerField(help_text="Estimated virtual size of the signed transaction")
    selection_rule = models.CharField(max_length=32)
    change_vout = models.PositiveIntegerField(null=True, blank=True)
    change_script = models.BinaryField(default=b"")
    threshold = models.PositiveSmallIntegerField(help_text="Signatures each input needs")
    status = models.CharField(max_length=16, choices=PsbtStatus.choices, default=PsbtStatus.BUILT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())
    broadcast_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transfer"], condition=~Q(status="superseded"), name="reserve_psbt_one_live_per_transfer"
            ),
            models.CheckConstraint(condition=Q(txid__regex=r"^[0-9a-f]{64}$"), name="reserve_psbt_txid_format"),
            models.CheckConstraint(condition=Q(fee_sats__gt=0, fee_sats__lte=MAX_SATS), name="reserve_psbt_fee_range"),
            models.CheckConstraint(condition=Q(status__in=PsbtStatus.values), name="reserve_psbt_status_valid"),
            models.CheckConstraint(condition=Q(threshold__gte=1), name="reserve_psbt_threshold_positive"),
        ]

    def __str__(self) -> str:
        return f"PSBT {self.txid[:16]}… for transfer {self.transfer_id} ({self.status})"


class UtxoReservation(models.Model):
    """A coin held for one transfer's PSBT from the build until the transfer is final, failed or
    cancelled (a reorg can bring a spent coin back: the hold outlives the broadcast). PostgreSQL
    keeps at most one live reservation per coin, so two transfers never spend the same one."""

    utxo = models.ForeignKey("reserve.WalletUtxo", on_delete=models.PROTECT, related_name="reservations")
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="utxo_reservations")
    psbt = models.ForeignKey(BuiltPsbt, on_delete=models.PROTECT, related_name="reservations")
    reserved_at = models.DateTimeField(db_default=Now())
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["utxo"], condition=Q(released_at__isnull=True), name="reserve_utxo_one_live_reservation"
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | ~Q(release_reason=""),
                name="reserve_reservation_release_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"coin {self.utxo_id} for transfer {self.transfer_id}"


class UtxoFreeze(models.Model):
    """An operator's hold on a coin (dust attack, disputed provenance): never selected while frozen."""

    utxo = models.ForeignKey("reserve.WalletUtxo", on_delete=models.PROTECT, related_name="freezes")
    reason = models.TextField()
    frozen_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    frozen_at = models.DateTimeField(db_default=Now())
    unfrozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unfrozen_at = models.DateTimeField(null=True, blank=True)
    unfreeze_reason = models.TextField(blank=True)

    class Meta:
        permissions = [("freeze_utxo", "Can freeze and unfreeze a wallet's coins")]
        constraints = [
            models.UniqueConstraint(
                fields=["utxo"], condition=Q(unfrozen_at__isnull=True), name="reserve_utxo_one_live_freeze"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="reserve_freeze_has_reason"),
            models.CheckConstraint(
                condition=Q(unfrozen_at__isnull=True) | (Q(unfrozen_by__isnull=False) & ~Q(unfreeze_reason="")),
                name="reserve_unfreeze_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"coin {self.utxo_id} frozen"


class SignatureUpload(models.Model):
    """One PSBT a custodian uploaded for a built PSBT: accepted (its signatures combined) or refused
    with the reason. Kept either way: the refusals are the audit trail of tampering."""

    psbt = models.ForeignKey(BuiltPsbt, on_delete=models.PROTECT, related_name="uploads")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded = models.BinaryField()
    accepted = models.BooleanField()
    reason = models.TextField(blank=True)
    signers = models.JSONField(default=list, help_text="Fingerprints of the cosigners whose signatures it added")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted=True) | ~Q(reason=""), name="reserve_signature_refusal_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"upload {self.pk} for PSBT {self.psbt_id} ({'accepted' if self.accepted else 'refused'})"
