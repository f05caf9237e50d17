"""Double-entry books: accounts, hash-chained journal transactions, entries, balances, reservations.

The invariants live in PostgreSQL (ledger/sql/*.sql, loaded by migrations); the constraints
below are the ones Django can express, the triggers do the rest.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from ledger.amounts import MAX_SATS

GENESIS_HASH = "0" * 64


class AccountType(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


class Account(models.Model):
    # code, currency and type never change once created (trigger ledger_account_guard).
    code = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, blank=True)
    account_type = models.CharField(max_length=16, choices=AccountType.choices)
    currency = models.CharField(max_length=8, default="BTC")
    non_negative = models.BooleanField(default=False)
    external_reference = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[a-z0-9][a-z0-9_.-]*(:[a-z0-9][a-z0-9_.-]*)*$"),
                name="ledger_account_code_format",
            ),
            models.CheckConstraint(condition=Q(account_type__in=AccountType.values), name="ledger_account_type_valid"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z0-9]{3,8}$"), name="ledger_account_currency_format"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class JournalTransaction(models.Model):
    """One balanced posting. Inserted once with its final sequence and hash, never updated."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sequence = models.BigIntegerField(unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    request_hash = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    posted_at = models.DateTimeField(db_index=True)
    block_height = models.BigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=64, null=True, blank=True)
    txid = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    memo = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(sequence__gt=0), name="ledger_tx_sequence_positive"),
            models.CheckConstraint(condition=Q(block_height__gte=0), name="ledger_tx_block_height_nonneg"),
            models.CheckConstraint(condition=~Q(kind=""), name="ledger_tx_kind_present"),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="ledger_tx_key_present"),
            # A transaction is reversed at most once.
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="ledger_tx_reversed_once"
            ),
        ]
        indexes = [models.Index(fields=["occurred_at"], name="ledger_tx_occurred_at")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.kind}"


class Entry(models.Model):
    """One leg: debit > 0, credit < 0, never 0.

    sequence, occurred_at and block_height are copies of the transaction's, and
    balance_after_sats the account's running balance in posting order; a BEFORE INSERT
    trigger fills all four, so as-of queries read one index of this table.
    """

    transaction = models.ForeignKey(JournalTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount_sats = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    sequence = models.BigIntegerField(editable=False, default=0)
    occurred_at = models.DateTimeField(editable=False, null=True)
    block_height = models.BigIntegerField(editable=False, null=True)
    balance_after_sats = models.BigIntegerField(editable=False, default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_sats=0) & Q(amount_sats__gte=-MAX_SATS) & Q(amount_sats__lte=MAX_SATS),
                name="ledger_entry_amount_bounds",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "sequence", "id"],
                include=["balance_after_sats", "amount_sats", "occurred_at", "block_height"],
                name="ledger_entry_account_seq",
            ),
            models.Index(fields=["account", "occurred_at"], include=["amount_sats"], name="ledger_entry_account_occ"),
            models.Index(
                fields=["account", "block_height"], include=["amount_sats"], name="ledger_entry_account_height"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_sats:+d}"


class AccountBalance(models.Model):
    """Current balance, kept by the Entry insert triggers under the account's row lock.

    pending_sats is the total reserved *out of* the account by open reservations (>= 0);
    the CHECK keeps balance - pending >= 0 on non-negative accounts.
    """

    account = models.OneToOneField(Account, primary_key=True, on_delete=models.PROTECT, related_name="balance")
    currency = models.CharField(max_length=8)
    non_negative = models.BooleanField(default=False)
    balance_sats = models.BigIntegerField(default=0)
    pending_sats = models.BigIntegerField(default=0)
    entry_count = models.BigIntegerField(default=0)
    last_sequence = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pending_sats__gte=0), name="ledger_balance_pending_nonneg"),
            models.CheckConstraint(
                condition=Q(non_negative=False) | Q(balance_sats__gte=models.F("pending_sats")),
                name="ledger_balance_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.balance_sats}"


class PendingStatus(models.TextChoices):
    OPEN = "open"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class PendingTransaction(models.Model):
    """A two-phase reservation: holds its outgoing legs against available balances until posted or voided."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    idempotency_key = models.CharField(max_length=255, unique=True)
    request_hash = models.CharField(max_length=64)
    kind = models.CharField(max_length=64)
    memo = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=PendingStatus.choices, default=PendingStatus.OPEN)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    resolved_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    posted_transaction = models.OneToOneField(
        JournalTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="pending"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PendingStatus.values), name="ledger_pending_status_valid"),
            models.CheckConstraint(
                condition=Q(status=PendingStatus.POSTED, posted_transaction__isnull=False)
                | (~Q(status=PendingStatus.POSTED) & Q(posted_transaction__isnull=True)),
                name="ledger_pending_posted_has_tx",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="ledger_pending_open_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status}"


class PendingEntry(models.Model):
    pending = models.ForeignKey(PendingTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="pending_entries")
    amount_sats = models.BigIntegerField()
    currency = models.CharField(max_length=8)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_sats=0) & Q(amount_sats__gte=-MAX_SATS) & Q(amount_sats__lte=MAX_SATS),
                name="ledger_pending_entry_amount_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_sats:+d}"


class CheckpointDimension(models.TextChoices):
    OCCURRED_AT = "occurred_at"
    BLOCK_HEIGHT = "block_height"


class BalanceCheckpoint(models.Model):
    """Balance of an account over all entries whose occurred_at (or block_height) <= boundary.

    Derived data (see ledger/checkpoints.py): valid for entries up to the cursor's sequence.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=16, choices=CheckpointDimension.choices)
    boundary_at = models.DateTimeField(null=True)
    boundary_height = models.BigIntegerField(null=True)
    balance_sats = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "dimension", "boundary_at"], name="ledger_cp_unique_at"),
            models.UniqueConstraint(fields=["account", "dimension", "boundary_height"], name="ledger_cp_unique_height"),
            models.CheckConstraint(
                condition=Q(dimension="occurred_at", boundary_at__isnull=False, boundary_height__isnull=True)
                | Q(dimension="block_height", boundary_at__isnull=True, boundary_height__isnull=False),
                name="ledger_cp_one_boundary",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.dimension} {self.boundary_at or self.boundary_height}"


class CheckpointCursor(models.Model):
    """Up to which sequence an account's checkpoints in one dimension include every entry."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=16, choices=CheckpointDimension.choices)
    valid_through_sequence = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "dimension"], name="ledger_cp_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.dimension} <= {self.valid_through_sequence}"


class LogPending(models.Model):
    """A journal transaction not yet in the transparency log; queued by a trigger on every insert
    (ledger/sql/0008_ledger_transparency_log.sql), removed by the sealer once its leaf exists."""

    transaction = models.OneToOneField(
        JournalTransaction, primary_key=True, on_delete=models.PROTECT, related_name="log_pending"
    )
    sequence = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"pending #{self.sequence}"


class LogLeaf(models.Model):
    """Leaf `index` of the log: RFC 9162 leaf hash of the transaction's hash (which commits to its content)."""

    index = models.BigIntegerField(primary_key=True)
    transaction = models.OneToOneField(JournalTransaction, on_delete=models.PROTECT, related_name="log_leaf")
    leaf_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"leaf {self.index}"


class LogNode(models.Model):
    """A complete subtree of the log: leaves [index * 2**level, (index + 1) * 2**level), level >= 1."""

    pk = models.CompositePrimaryKey("level", "index")
    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(level__gte=1) & Q(index__gte=0), name="ledger_lognode_pos")]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class SignedTreeHead(models.Model):
    """A tree head the service signed (ledger/log/heads.py has the signed bytes); one per size."""

    tree_size = models.BigIntegerField(primary_key=True)
    root_hash = models.CharField(max_length=64)
    timestamp_ms = models.BigIntegerField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(tree_size__gte=0), name="ledger_sth_size_nonneg")]

    def __str__(self) -> str:
        return f"head {self.tree_size}"
