"""Recording the facts the policy reads that no ledger holds: fiat totals by date."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from config.errors import PermissionDenied, ValidationFailed
from policy.permissions import DRAFT_VERSION, user_may
from reserve.audit.services import audit_record
from reserve.common.free_text import free_text_check
from reserve.compliance.models import FiatTotal


def fiat_total_record(
    *, actor: Any, name: str, currency: str, amount: str, as_of: datetime, reference: str
) -> FiatTotal:
    """Record the fiat total `name` (e.g. total public funds) as of `as_of`, with the document it
    comes from: policy administrators only (those who may draft policy). `amount` is a decimal string."""
    if not user_may(actor, DRAFT_VERSION):
        raise PermissionDenied.for_field("actor", f"needs the permission {DRAFT_VERSION} to record a fiat total")
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha() and currency.isupper()):
        raise ValidationFailed.for_field("currency", f"{currency!r} is not an ISO 4217 code such as USD")
    if as_of.tzinfo is None:
        raise ValidationFailed.for_field("as_of", "must be timezone-aware")
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError):
        raise ValidationFailed.for_field("amount", "must be a decimal number, e.g. 1000000.00") from None
    # The bound first: quantizing a value beyond the context's 28 digits raises instead of comparing.
    if not value.is_finite() or value <= 0 or value >= Decimal("1e22") or value != value.quantize(Decimal("0.01")):
        raise ValidationFailed.for_field("amount", "must be positive, in whole cents, below 10^22")
    total = FiatTotal(
        name=name, currency=currency, amount=value, as_of=as_of, reference=reference.strip(), recorded_by=actor
    )
    try:
        total.full_clean(exclude=["recorded_by"])
    except ValidationError as error:
        fields = error.message_dict
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields) from None
    free_text_check(total)
    with transaction.atomic():
        total.save()
        audit_record(
            actor=actor,
            action="fiat_total.record",
            instance=total,
            before=None,
            after={"name": name, "currency": currency, "amount": str(value), "as_of": as_of.isoformat()},
        )
    return total
