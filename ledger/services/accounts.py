"""account_create: chart-of-accounts writes, idempotent on the account code."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from config.errors import Conflict, ValidationFailed
from ledger.models import Account, AccountType

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*(:[a-z0-9][a-z0-9_.-]*)*$")
CURRENCY_PATTERN = re.compile(r"^[A-Z0-9]{3,8}$")


def _validate(*, code: str, name: str, account_type: str, currency: str, external_reference: str) -> None:
    if not isinstance(code, str) or len(code) > 255 or not CODE_PATTERN.match(code):
        raise ValidationFailed.for_field(
            "code", "must be lowercase segments of [a-z0-9_.-] separated by ':' (e.g. assets:custody:cold-01)"
        )
    if account_type not in AccountType.values:
        raise ValidationFailed.for_field("account_type", f"must be one of {', '.join(AccountType.values)}")
    if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
        raise ValidationFailed.for_field("currency", "must be 3-8 uppercase letters or digits")
    if len(name) > 255:
        raise ValidationFailed.for_field("name", "must be at most 255 characters")
    if len(external_reference) > 255:
        raise ValidationFailed.for_field("external_reference", "must be at most 255 characters")


def _same(account: Account, **wanted: object) -> Account:
    differing = sorted(field for field, value in wanted.items() if getattr(account, field) != value)
    if differing:
        raise Conflict(
            f"account {account.code} already exists with other {', '.join(differing)}",
            fields={field: ["differs from the existing account"] for field in differing},
        )
    return account


def account_create(
    *,
    code: str,
    name: str = "",
    account_type: str,
    currency: str = "BTC",
    non_negative: bool = False,
    external_reference: str = "",
) -> Account:
    """Create an account, or return the existing one with the same code if it is identical."""
    _validate(code=code, name=name, account_type=account_type, currency=currency, external_reference=external_reference)
    wanted = {
        "name": name,
        "account_type": account_type,
        "currency": currency,
        "non_negative": non_negative,
        "external_reference": external_reference,
    }
    existing = Account.objects.filter(code=code).first()
    if existing is not None:
        return _same(existing, **wanted)
    try:
        with transaction.atomic():
            account = Account(code=code, **wanted)
            account.save(force_insert=True)
            return account
    except IntegrityError:
        # A concurrent create of the same code won; compare with it.
        return _same(Account.objects.get(code=code), **wanted)
