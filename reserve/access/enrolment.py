"""Enrolment of a TOTP device needs a one-time code that an administrator issues, beside the password.

Whoever steals a privileged user's password could otherwise log in, be shown a fresh TOTP
secret and confirm it: the second factor would then belong to the thief. The code is issued
by another person (an administrator in the admin, or whoever runs `issue_enrolment_code` on
the server), reaches the user out of band, expires, works once, and only its hash is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import PermissionDenied, ValidationFailed
from reserve.access.models import EnrolmentCode
from reserve.audit.services import audit_record

ENROLMENT_CODE_TTL = timedelta(hours=24)
ISSUE_PERMISSION = "reserve.add_enrolmentcode"
# Crockford-like base32 without the letters people confuse (0/O, 1/I/L).
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 16


def _normalized(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _hash(code: str) -> str:
    return hashlib.sha256(_normalized(code).encode()).hexdigest()


def enrolment_code_issue(*, actor: Any | None, user: Any, ttl: timedelta = ENROLMENT_CODE_TTL) -> str:
    """A new code for `user` (earlier unused ones are revoked); returns the code, shown once.

    `actor` None is the server's own shell (the management command): someone with access to
    the machine, in person. Otherwise the actor needs the issue permission and is not `user`:
    an administrator cannot vouch for their own second factor."""
    if actor is not None:
        if actor.pk == user.pk:
            raise PermissionDenied.for_field("user", "an enrolment code for yourself must be issued by someone else")
        if not actor.has_perm(ISSUE_PERMISSION):
            raise PermissionDenied.for_field("user", "only an account administrator may issue enrolment codes")
    if not user.is_active:
        raise ValidationFailed.for_field("user", f"{user.get_username()} is not active")
    if ttl <= timedelta(0):
        raise ValidationFailed.for_field("ttl", "an enrolment code must expire in the future")
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    now = timezone.now()
    with transaction.atomic():
        EnrolmentCode.objects.filter(user=user, used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
        issued = EnrolmentCode.objects.create(
            user=user,
            code_hash=_hash(code),
            issued_by=actor,
            issued_by_label=actor.get_username() if actor is not None else "server shell",
            issued_at=now,
            expires_at=now + ttl,
        )
        audit_record(
            actor=actor,
            action="account.enrolment_code_issue",
            instance=user,
            before=None,
            after={"enrolment_code": issued.pk, "expires_at": issued.expires_at.isoformat()},
        )
    return "-".join(code[index : index + 4] for index in range(0, _CODE_LENGTH, 4))


def enrolment_code_redeem(*, user: Any, code: str) -> EnrolmentCode | None:
    """Use up `user`'s code if it is theirs, unused, unrevoked and unexpired; None otherwise.

    One conditional UPDATE decides, so two requests with the same code cannot both win."""
    now = timezone.now()
    with transaction.atomic():
        matched = EnrolmentCode.objects.filter(
            user=user,
            code_hash=_hash(code),
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        )
        if matched.update(used_at=now) != 1:
            return None
        redeemed = EnrolmentCode.objects.get(user=user, code_hash=_hash(code))
        audit_record(
            actor=user,
            action="account.enrolment_code_redeem",
            instance=user,
            before=None,
            after={"enrolment_code": redeemed.pk},
        )
    return redeemed
