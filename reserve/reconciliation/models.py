"""What the chain follower knows: verified headers, each wallet's outputs and scan position,
reconciliation runs with their discrepancies, and the outbox of tasks that writes trigger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from ledger.amounts import MAX_SATS
from ledger.models import JournalTransaction
from reserve.custody.models import Network, Wallet
from reserve.transfers.models import Transfer

HASH_REGEX = r"^[0-9a-f]{64}$"


class BlockStatus(models.TextChoices):
    ACTIVE = "active"
    REORGED = "reorged"
    # Sent by the node but failed verification: kept to report it, never scanned.
    REJECTED = "rejected"


class ChainBlock(models.Model):
    """A block header the scanner verified (linkage, proof of work, merkle root), or refused."""

    network = models.CharField(max_length=16, choices=Network.choices)
    height = models.PositiveIntegerField()
    hash = models.CharField(max_length=64)
    header = models.BinaryField(
        max_length=80, default=b"", help_text="The 80 serialized header bytes, for later checks"
    )
    prev_hash = models.CharField(max_length=64)
    merkle_root = models.CharField(max_length=64)
    block_time_at = models.DateTimeField()
    bits = models.BigIntegerField()
    tx_count = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=BlockStatus.choices, default=BlockStatus.ACTIVE)
    rejection_reason = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    reorged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["network", "-height"]
        constraints = [
            models.UniqueConstraint(fields=["network", "hash"], name="reserve_block_unique_hash"),
            # One best chain: at most one active block per height.
            models.UniqueConstraint(
                fields=["network", "height"], condition=Q(status="active"), name="reserve_block_one_active_per_height"
            ),
            models.CheckConstraint(condition=Q(status__in=BlockStatus.values), name="reserve_block_status_valid"),
            models.CheckConstraint(condition=Q(hash__regex=HASH_REGEX), name="reserve_block_hash_format"),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(verified_at__isnull=False), name="reserve_block_active_is_verified"
            ),
        ]
        indexes = [models.Index(fields=["network", "height"], name="reserve_block_height")]

    def __str__(self) -> str:
        return f"{self.network} {self.height} {self.hash[:16]}… ({self.status})"


class UtxoStatus(models.TextChoices):
    UNSPENT = "unspent"
    SPENT = "spent"
    # Its creating block left the best chain.
    REORGED = "reorged"


class WalletUtxo(models.Model):
    """An output paying one of a wallet's watched scripts, and what spent it."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="utxos")
    txid = models.CharField(max_length=64)
    vout = models.PositiveIntegerField()
    value_sats = models.BigIntegerField()
    script_pubkey = models.BinaryField()
    block = models.ForeignKey(ChainBlock, on_delete=models.PROTECT, related_name="created_utxos")
    block_height = models.PositiveIntegerField()
    spent_by_txid = models.CharField(max_length=64, blank=True)
    spent_in_block = models.ForeignKey(
        ChainBlock, null=True, blank=True, on_delete=models.PROTECT, related_name="spent_utxos"
    )
    spent_height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=UtxoStatus.choices, default=UtxoStatus.UNSPENT)
    coinbase = models.BooleanField(
        default=False, db_default=False, help_text="Created by its block's coinbase (immature for 100 blocks)"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["wallet", "block_height", "txid", "vout"]
        constraints = [
            models.UniqueConstraint(fields=["wallet", "txid", "vout", "block"], name="reserve_utxo_unique_per_block"),
            models.UniqueConstraint(
                fields=["wallet", "txid", "vout"], condition=~Q(status="reorged"), name="reserve_utxo_one_live"
            ),
            models.CheckConstraint(
                condition=Q(value_sats__gte=0, value_sats__lte=MAX_SATS), name="reserve_utxo_value_range"
            ),
            models.CheckConstraint(condition=Q(status__in=UtxoStatus.values), name="reserve_utxo_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="spent") | (~Q(spent_by_txid="") & Q(spent_in_block__isnull=False)),
                name="reserve_utxo_spent_has_spender",
            ),
        ]
        indexes = [
            models.Index(fields=["wallet", "status"], name="reserve_utxo_wallet_status"),
            models.Index(fields=["txid"], name="reserve_utxo_txid"),
        ]

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout} {self.value_sats} sats ({self.status})"


class ScanCursor(models.Model):
    """How far a wallet has been scanned: the last block whose effects are committed, and, while
    that block's bookings commit in steps, how many of them are (the rest is booked on resume)."""

    wallet = models.OneToOneField(Wallet, on_delete=models.PROTECT, related_name="scan_cursor")
    height = models.IntegerField(help_text="-1 before the first block")
    block_hash = models.CharField(max_length=64, blank=True)
    blocks_scanned = models.PositiveBigIntegerField(default=0)
    reorgs = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(db_default=Now())
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="The last successful reconciliation, recorded as a run or not"
    )
    booking_block_hash = models.CharField(
        max_length=64, blank=True, default="", db_default="", help_text="The cursor's block while its bookings commit"
    )
    booked_units = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Bookings of that block committed so far, in the block's order"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(height=-1, block_hash="") | Q(height__gte=0, block_hash__regex=HASH_REGEX),
                name="reserve_cursor_position",
            ),
            models.CheckConstraint(
                condition=Q(booking_block_hash="", booked_units=0) | Q(booking_block_hash=models.F("block_hash")),
                name="reserve_cursor_booking_at_cursor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.wallet_id} at {self.height}"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ReconciliationRun(models.Model):
    """One reconciliation of one wallet at a block, with its counts and totals; kept when it fails."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="reconciliation_runs")
    trigger = models.CharField(max_length=32, help_text="task, command, ...")
    task_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    confirmation_depth = models.PositiveSmallIntegerField()
    height = models.IntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    blocks_scanned = models.PositiveIntegerField(default=0)
    reorgs = models.PositiveIntegerField(default=0)
    utxo_count = models.PositiveIntegerField(default=0)
    chain_balance_sats = models.BigIntegerField(null=True, blank=True)
    final_balance_sats = models.BigIntegerField(null=True, blank=True, help_text="Buried at least the depth")
    ledger_balance_sats = models.BigIntegerField(null=True, blank=True)
    matched_count = models.PositiveIntegerField(default=0)
    observed_count = models.PositiveIntegerField(default=0)
    finalized_count = models.PositiveIntegerField(default=0)
    discrepancy_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("request_reconciliation", "Can ask for a wallet's reconciliation now")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="reserve_run_status_valid"),
            models.CheckConstraint(condition=~Q(status="failed") | ~Q(error=""), name="reserve_run_failure_has_reason"),
            models.CheckConstraint(
                condition=Q(status="running") | Q(finished_at__isnull=False), name="reserve_run_finished_at"
            ),
        ]
        indexes = [models.Index(fields=["wallet", "-started_at"], name="reserve_run_wallet_started")]

    def __str__(self) -> str:
        return f"run {self.pk} of wallet {self.wallet_id} at {self.height} ({self.status})"


class DiscrepancyKind(models.TextChoices):
    UNRECORDED_INFLOW = "unrecorded_inflow"
    UNRECORDED_OUTFLOW = "unrecorded_outflow"
    AMOUNT_MISMATCH = "amount_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    MISSING_ON_CHAIN = "missing_on_chain"
    UNCONFIRMED = "unconfirmed"


# What each kind means and what an operator does about it: the dashboard and the discrepancy's page say it.
DISCREPANCY_MEANING = {
    DiscrepancyKind.UNRECORDED_INFLOW: "Bitcoin arrived that no transfer proposed (a donation to a public address, "
    "a payment sent before its paperwork). The books recorded it as observed, and the policies judged it at its "
    "block; resolve it with the reason once its origin is known.",
    DiscrepancyKind.UNRECORDED_OUTFLOW: "Bitcoin left the wallet without a proposed transfer: someone signed outside "
    "the system. Investigate before resolving.",
    DiscrepancyKind.AMOUNT_MISMATCH: "The chain and the books disagree on an amount or a balance.",
    DiscrepancyKind.FEE_MISMATCH: "The fee paid differs from the fee proposed; the books hold what was paid.",
    DiscrepancyKind.MISSING_ON_CHAIN: "A broadcast transfer is neither mined nor in the node's mempool.",
    DiscrepancyKind.UNCONFIRMED: "A broadcast transfer waits in the node's mempool.",
}


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"


class Discrepancy(models.Model):
    """A difference between the chain and the books, open until an operator (or the chain) resolves it."""

    run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="discrepancies")
    kind = models.CharField(max_length=32, choices=DiscrepancyKind.choices)
    txid = models.CharField(max_length=64, blank=True, help_text="Empty for the wallet's balance")
    vout = models.PositiveIntegerField(null=True, blank=True)
    transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    block_height = models.PositiveIntegerField(null=True, blank=True)
    expected_sats = models.BigIntegerField(null=True, blank=True, help_text="What the books say")
    actual_sats = models.BigIntegerField(null=True, blank=True, help_text="What the chain says")
    detail = models.TextField()
    status = models.CharField(max_length=16, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN)
    resolution_reason = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    adjustment = models.ForeignKey(
        JournalTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "discrepancies"
        ordering = ["-created_at", "-id"]
        permissions = [("resolve_discrepancy", "Can resolve reconciliation discrepancies")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DiscrepancyKind.values), name="reserve_discrepancy_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=DiscrepancyStatus.values), name="reserve_discrepancy_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | (~Q(resolution_reason="") & Q(resolved_at__isnull=False)),
                name="reserve_discrepancy_resolution_has_reason",
            ),
            # A re-run finds the same difference again: it stays one open discrepancy.
            models.UniqueConstraint(
                fields=["wallet", "kind", "txid", "vout"],
                condition=Q(status="open"),
                nulls_distinct=False,
                name="reserve_discrepancy_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["wallet", "status"], name="reserve_discrepancy_wallet"),
            # Booking looks for the open discrepancy of each output it books: found by txid, not
            # by reading every open discrepancy of the wallet (thousands after a large history).
            models.Index(fields=["wallet", "txid"], condition=Q(status="open"), name="reserve_discrepancy_open_txid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.txid or 'balance'} ({self.status})"

    @property
    def meaning(self) -> str:
        return DISCREPANCY_MEANING.get(DiscrepancyKind(self.kind), "")
