"""One-time enrolment codes: what a privileged user needs, beside the password, to enrol a TOTP device."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EnrolmentCode(models.Model):
    """A code an administrator issued for one user, valid once and until it expires.

    Only its SHA-256 is stored, so reading the table does not let anyone enrol."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolment_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    issued_by_label = models.CharField(max_length=150)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-issued_at",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("issued_at")), name="enrolmentcode_expiry"
            ),
            models.CheckConstraint(
                condition=~models.Q(used_at__isnull=False, revoked_at__isnull=False),
                name="enrolmentcode_used_or_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"enrolment code for {self.user} (issued {self.issued_at:%Y-%m-%d %H:%M} by {self.issued_by_label})"
