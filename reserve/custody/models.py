"""Holding entities and their watch-only custody wallets, down to each watched output script."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from ledger.models import Account


class AgencyKind(models.TextChoices):
    MINISTRY = "ministry"
    CENTRAL_BANK = "central_bank"
    RESERVE_FUND = "reserve_fund"
    LAW_ENFORCEMENT = "law_enforcement"
    OTHER = "other"


class Agency(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=AgencyKind.choices, default=AgencyKind.OTHER)
    jurisdiction = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="reserve_agency_name_present"),
            models.CheckConstraint(condition=Q(kind__in=AgencyKind.values), name="reserve_agency_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class WalletKind(models.TextChoices):
    COLD = "cold"
    HOT = "hot"
    MULTISIG = "multisig"
    EXCHANGE = "exchange"
    MINING_PAYOUT = "mining_payout"


class Network(models.TextChoices):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    SIGNET = "signet"
    REGTEST = "regtest"


class Wallet(models.Model):
    """A custody wallet: watch-only, defined by descriptors and/or single addresses."""

    name = models.CharField(max_length=120, unique=True)
    # `agency` and `in_perimeter` are the membership in force now: the database copies them
    # from the wallet's latest approved WalletMembership and refuses any other change.
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="wallets")
    kind = models.CharField(max_length=32, choices=WalletKind.choices)
    network = models.CharField(max_length=16, choices=Network.choices)
    in_perimeter = models.BooleanField(
        default=True, help_text="Counts as public-sector holdings now (the membership in force; changed by approval)"
    )
    birthday_height = models.PositiveIntegerField(default=0)
    published = models.BooleanField(
        default=False,
        help_text="Shown on the public transparency page (/transparency/): its name, addresses and holdings",
    )
    gap_limit = models.PositiveIntegerField(default=20)
    ledger_account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="custody_wallet")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="reserve_wallet_name_present"),
            models.CheckConstraint(condition=Q(kind__in=WalletKind.values), name="reserve_wallet_kind_valid"),
            models.CheckConstraint(condition=Q(network__in=Network.values), name="reserve_wallet_network_valid"),
            models.CheckConstraint(
                condition=Q(gap_limit__gte=1, gap_limit__lte=1000), name="reserve_wallet_gap_limit_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MembershipStatus(models.TextChoices):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class WalletMembership(models.Model):
    """Which agency holds a wallet and whether it counts in the perimeter, from `effective_from` until
    the wallet's next approved membership. `effective_from` None is the wallet's first membership
    (since the beginning of its books); any later one takes effect when a second person approves it
    (`effective_from` = `approved_at`), never earlier. PostgreSQL keeps decided rows immutable
    (reserve/sql/0014_wallet_membership.sql)."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    in_perimeter = models.BooleanField()
    status = models.CharField(max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.PROPOSED)
    reason = models.TextField(blank=True)
    effective_from = models.DateTimeField(null=True, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["wallet_id", "id"]
        permissions = [
            ("propose_walletmembership", "Can propose a change of a wallet's agency or perimeter membership"),
            ("approve_walletmembership", "Can approve or reject a change of a wallet's membership"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MembershipStatus.values), name="reserve_membership_status_valid"
            ),
            # The first membership of a wallet is the one it was registered (or migrated) with.
            models.UniqueConstraint(
                fields=["wallet"],
                condition=Q(effective_from__isnull=True, status="approved"),
                name="reserve_membership_one_initial",
            ),
            # One open proposal per wallet: a second would be judged against a state the first changes.
            models.UniqueConstraint(
                fields=["wallet"], condition=Q(status="proposed"), name="reserve_membership_one_open_proposal"
            ),
            models.UniqueConstraint(
                fields=["wallet", "effective_from"],
                condition=Q(status="approved"),
                name="reserve_membership_one_per_moment",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                name="reserve_membership_checker_not_maker",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved")
                | Q(effective_from__isnull=True)
                | Q(decided_by__isnull=False, decided_at__isnull=False, effective_from=models.F("decided_at")),
                name="reserve_membership_effective_at_approval",
            ),
        ]
        indexes = [models.Index(fields=["wallet", "effective_from"], name="reserve_membership_wallet_from")]

    def __str__(self) -> str:
        where = "in the perimeter" if self.in_perimeter else "outside the perimeter"
        return f"{self.wallet_id} with agency {self.agency_id}, {where} ({self.status})"


class WalletDescriptor(models.Model):
    """One output descriptor of a wallet, stored with its checksum; `next_index` maps chain -> first underived index."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="descriptors")
    descriptor = models.TextField()
    kind = models.CharField(max_length=32)
    is_ranged = models.BooleanField(default=True)
    next_index = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["wallet", "descriptor"], name="reserve_descriptor_unique_per_wallet"),
            models.CheckConstraint(
                condition=Q(descriptor__regex=r"#[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{8}$"),
                name="reserve_descriptor_has_checksum",
            ),
        ]

    def __str__(self) -> str:
        return self.descriptor[:60]


class WatchedScript(models.Model):
    """An output script the scanner watches for a wallet: a derived child or a single address."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="watched_scripts")
    descriptor = models.ForeignKey(
        WalletDescriptor, null=True, blank=True, on_delete=models.PROTECT, related_name="scripts"
    )
    script_pubkey = models.BinaryField()
    address = models.CharField(max_length=100)
    derivation_path = models.CharField(max_length=200, blank=True)
    chain = models.PositiveIntegerField(null=True, blank=True, help_text="0 receive, 1 change")
    index = models.PositiveIntegerField(null=True, blank=True)
    used = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["wallet", "script_pubkey"], name="reserve_script_unique_per_wallet"),
            models.UniqueConstraint(
                fields=["descriptor", "chain", "index"],
                condition=Q(descriptor__isnull=False),
                name="reserve_script_unique_derivation",
            ),
        ]
        indexes = [models.Index(fields=["script_pubkey"], name="reserve_script_spk")]

    def __str__(self) -> str:
        return self.address

    @property
    def script_pubkey_hex(self) -> str:
        return bytes(self.script_pubkey).hex()


class CounterpartyKind(models.TextChoices):
    EXCHANGE = "exchange"
    BROKER = "broker"
    COURT = "court"
    VICTIM = "victim"
    CUSTODIAN = "custodian"
    MINING_POOL = "mining_pool"
    OTHER = "other"


class Counterparty(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=CounterpartyKind.choices, default=CounterpartyKind.OTHER)
    reference = models.CharField(max_length=200, blank=True, help_text="Registration, case or contract number")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "counterparties"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="reserve_counterparty_name_present"),
            models.CheckConstraint(
                condition=Q(kind__in=CounterpartyKind.values), name="reserve_counterparty_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LabelType(models.TextChoices):
    """The BIP-329 record types the service exports and accepts back."""

    XPUB = "xpub", "extended public key"
    ADDR = "addr", "address"
    TX = "tx", "transaction"
    OUTPUT = "output", "output"


class WalletLabel(models.Model):
    """An operator's BIP-329 label for one of a wallet's own keys, addresses, transactions or
    outputs (imported, `reserve/reports/labels_import.py`); the export shows it in place of the
    label the service would write. Changed only by an import, never deleted."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="labels")
    type = models.CharField(max_length=8, choices=LabelType.choices)
    ref = models.CharField(max_length=200)
    label = models.CharField(max_length=255)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["wallet_id", "type", "ref"]
        permissions = [("import_labels", "Can import BIP-329 labels for a wallet")]
        constraints = [
            models.UniqueConstraint(fields=["wallet", "type", "ref"], name="reserve_wallet_label_one_per_ref"),
            models.CheckConstraint(condition=Q(type__in=LabelType.values), name="reserve_wallet_label_type_valid"),
            models.CheckConstraint(condition=~Q(ref="") & ~Q(label=""), name="reserve_wallet_label_present"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.ref}: {self.label}"
