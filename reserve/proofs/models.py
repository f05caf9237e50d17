"""Proofs of reserves: a fresh, expiring challenge for a set of addresses, and the verified
statement made from message signatures over it (append-only: the challenge is consumed once)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class ReserveProofChallenge(models.Model):
    """The text the custodians must sign: it names the challenge, a random nonce, the expiry and the addresses."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nonce = models.CharField(max_length=64, unique=True)
    network = models.CharField(max_length=16)
    addresses = models.JSONField(help_text="The addresses whose control is to be proven, in the order given")
    message = models.TextField()
    block_height = models.PositiveIntegerField(
        null=True, help_text="The block the proof is stated at, named by the server (its hash is in the message)"
    )
    block_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(nonce__regex=r"^[0-9a-f]{64}$"), name="reserve_challenge_nonce_format"),
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")), name="reserve_challenge_expiry"),
            # Challenges issued before they named their block have neither; every new one has both.
            models.CheckConstraint(
                condition=Q(block_height__isnull=True, block_hash="")
                | Q(block_height__isnull=False, block_hash__regex=r"^[0-9a-f]{64}$"),
                name="reserve_challenge_block",
            ),
        ]

    def __str__(self) -> str:
        return f"challenge {self.pk} ({len(self.addresses)} addresses)"


class ReserveProof(models.Model):
    """A statement: which addresses proved control, their balances at a named block, the signed total,
    and whether every in-perimeter wallet holding bitcoin is covered. One per challenge."""

    challenge = models.OneToOneField(ReserveProofChallenge, on_delete=models.PROTECT, related_name="proof")
    signatures = models.JSONField(help_text="[{address, signature, method}] as submitted, all verified")
    network = models.CharField(max_length=16)
    block_height = models.PositiveIntegerField()
    block_hash = models.CharField(max_length=64, blank=True)
    addresses = models.JSONField(help_text="[{address, wallet_id, wallet, method, balance_sats}]")
    wallets = models.JSONField(help_text="[{wallet_id, wallet, in_perimeter, balance_sats, signed_sats, covered}]")
    signed_total_sats = models.BigIntegerField()
    perimeter_total_sats = models.BigIntegerField()
    covers_perimeter = models.BooleanField()
    statement = models.JSONField(
        null=True, help_text="The holdings statement the service signed (reserve/proofs/statements.py)"
    )
    statement_signature = models.CharField(max_length=128, blank=True, help_text="Ed25519, hex")
    evidence = models.JSONField(
        null=True, help_text="Headers, transactions and merkle branches bundled when the statement was made"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(signed_total_sats__gte=0), name="reserve_proof_signed_total_nonneg"),
            models.CheckConstraint(
                condition=Q(block_hash="") | Q(block_hash__regex=r"^[0-9a-f]{64}$"), name="reserve_proof_block_hash"
            ),
            models.CheckConstraint(
                condition=Q(statement__isnull=True, statement_signature="")
                | Q(statement__isnull=False, statement_signature__regex=r"^[0-9a-f]{128}$"),
                name="reserve_proof_statement_signed",
            ),
            # Evidence only beside a statement that says, under the service's signature, it is bundled.
            models.CheckConstraint(
                condition=Q(evidence__isnull=True) | Q(statement__evidence__bundled=True),
                name="reserve_proof_evidence_bundled",
            ),
        ]

    def __str__(self) -> str:
        return f"proof {self.pk} at {self.block_height}: {self.signed_total_sats} sats"


class PeriodAttestation(models.Model):
    """A signed period attestation of the headline rule (reserve/proofs/attestations.py), as made:
    append-only (reserve/sql/0043_period_attestation.sql), so what auditors were given stays on record."""

    network = models.CharField(max_length=16)
    from_height = models.PositiveIntegerField()
    to_height = models.PositiveIntegerField()
    verdict = models.CharField(max_length=32)
    net_accumulation_sats = models.BigIntegerField()
    statement = models.JSONField(help_text="The attestation the service signed; scripts/verify_statement.py --rpc")
    statement_signature = models.CharField(max_length=128, help_text="Ed25519, hex")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_height__lte=models.F("to_height")), name="reserve_attestation_period"
            ),
            models.CheckConstraint(
                condition=Q(statement_signature__regex=r"^[0-9a-f]{128}$"), name="reserve_attestation_signed"
            ),
        ]

    def __str__(self) -> str:
        return f"attestation {self.pk} of blocks {self.from_height}-{self.to_height}: {self.verdict}"
