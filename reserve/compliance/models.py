"""Facts the policy reads that no ledger holds: fiat totals (e.g. total public funds) by date;
pledges and liabilities, approved once by someone other than their maker and released once
(guarded by `reserve/sql/0035_pledge.sql`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now

from ledger.amounts import MAX_SATS


class FiatTotal(models.Model):
    """A named fiat total as of a date, recorded by a policy administrator; the one in force at a
    time is the latest `as_of` at or before it (among equal dates, the last recorded). Append-only:
    a correction is a new record (the service role may not update or delete)."""

    name = models.SlugField(max_length=80)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=24, decimal_places=2)
    as_of = models.DateTimeField()
    reference = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["name", "-as_of", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="reserve_fiattotal_currency"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="reserve_fiattotal_amount_positive"),
            models.CheckConstraint(condition=~Q(reference=""), name="reserve_fiattotal_reference_present"),
        ]
        indexes = [models.Index(fields=["name", "as_of"], name="reserve_fiattotal_in_force")]

    def __str__(self) -> str:
        return f"{self.name}: {self.amount} {self.currency} as of {self.as_of:%Y-%m-%d}"


class PledgeKind(models.TextChoices):
    COLLATERAL = "collateral", "pledged as collateral"
    COMMITMENT = "commitment", "committed to a purpose"
    LIABILITY = "liability", "bitcoin-linked liability or instrument"


# The kinds that hold coins of a wallet (a liability is owed, not held).
ENCUMBERING_KINDS = (PledgeKind.COLLATERAL, PledgeKind.COMMITMENT)


class PledgeStatus(models.TextChoices):
    MADE = "made", "awaiting approval"
    ACTIVE = "active", "approved, in force"
    RELEASED = "released", "released"


# A record's status, read from its approval and release (the one definition lists and facts filter by).
PLEDGE_STATUS_FILTERS = {
    PledgeStatus.MADE: Q(approved_at__isnull=True),
    PledgeStatus.ACTIVE: Q(approved_at__isnull=False, released_at__isnull=True),
    PledgeStatus.RELEASED: Q(released_at__isnull=False),
}


class Pledge(models.Model):
    """Active from its approval until its release. A collateral pledge or a commitment names the
    wallet whose coins it holds; a liability may name one, or none (owed by the reserve as a whole)."""

    kind = models.CharField(max_length=16, choices=PledgeKind.choices)
    wallet = models.ForeignKey("reserve.Wallet", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    amount_sats = models.BigIntegerField()
    purpose = models.CharField(max_length=200)
    reference = models.CharField(max_length=200)
    dated = models.DateField()
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField(db_default=Now())
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reference = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-dated", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=PledgeKind.values), name="reserve_pledge_kind"),
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0, amount_sats__lte=MAX_SATS),
                name="reserve_pledge_amount_bounds",
            ),
            models.CheckConstraint(
                condition=Q(kind=PledgeKind.LIABILITY) | Q(wallet__isnull=False), name="reserve_pledge_wallet_held"
            ),
            models.CheckConstraint(condition=~Q(reference=""), name="reserve_pledge_reference_present"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True, approved_at__isnull=True)
                | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="reserve_pledge_approval_whole",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("made_by")),
                name="reserve_pledge_checker_not_maker",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, released_by__isnull=True)
                | Q(released_at__isnull=False, released_by__isnull=False, approved_at__isnull=False),
                name="reserve_pledge_release_after_approval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.amount_sats} sats ({self.reference})"

    @property
    def status(self) -> PledgeStatus:
        if self.released_at is not None:
            return PledgeStatus.RELEASED
        return PledgeStatus.MADE if self.approved_at is None else PledgeStatus.ACTIVE


class Lot(models.Model):
    """Coins that entered a wallet together: an inflow (from outside, or from another of our wallets,
    which keeps the acquisition time, category and provenance of the lot it came from, `origin`).
    Append-only (reserve/sql/0085_lots.sql): what is left of a lot is its amount less its
    consumptions."""

    wallet = models.ForeignKey("reserve.Wallet", on_delete=models.PROTECT, related_name="lots")
    transfer = models.ForeignKey("reserve.Transfer", on_delete=models.PROTECT, related_name="lots_created")
    journal_transaction = models.ForeignKey("ledger.JournalTransaction", on_delete=models.PROTECT, related_name="+")
    origin = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="moved_to")
    acquired_at = models.DateTimeField(help_text="When the reserve first acquired these coins")
    amount_sats = models.BigIntegerField()
    category = models.CharField(max_length=32, help_text="The source it was acquired as (kept through moves)")
    provenance_reference = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["wallet_id", "acquired_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0, amount_sats__lte=MAX_SATS), name="reserve_lot_amount_range"
            ),
        ]
        indexes = [models.Index(fields=["wallet", "acquired_at", "id"], name="reserve_lot_fifo")]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.amount_sats} sats of {self.category} in wallet {self.wallet_id}"


class LotConsumption(models.Model):
    """Part of a lot taken by a posting that moved coins out of its wallet (amount > 0), or given back
    when that posting's block left the chain (amount < 0, `restores` the consumption it undoes).
    Append-only; PostgreSQL keeps what a lot has given between nothing and its amount."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="consumptions")
    transfer = models.ForeignKey("reserve.Transfer", on_delete=models.PROTECT, related_name="lot_consumptions")
    journal_transaction = models.ForeignKey("ledger.JournalTransaction", on_delete=models.PROTECT, related_name="+")
    amount_sats = models.BigIntegerField()
    restores = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="restored_by")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_sats__gt=0, amount_sats__lte=MAX_SATS, restores__isnull=True)
                | Q(amount_sats__lt=0, amount_sats__gte=-MAX_SATS, restores__isnull=False),
                name="reserve_lotconsumption_amount_range",
            ),
            models.UniqueConstraint(
                fields=["lot", "journal_transaction"],
                condition=Q(restores__isnull=True),
                name="reserve_lotconsumption_once_per_posting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_sats} sats of lot {self.lot_id} by transfer {self.transfer_id}"
