"""Overdue reporting obligations after the fact: a breach per missed duty, and policy
administrators told of each new one (e-mail and webhook, through the outbox, in the same
transaction as the breach)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from policy.facts import PolicyFacts
from policy.models import PolicyBreach
from policy.services import obligations_overdue_record
from reserve.notifications.services import breach_notify


@transaction.atomic
def obligations_overdue_check(*, facts: PolicyFacts, at: datetime | None = None) -> list[PolicyBreach]:
    """The breaches opened by this check (none for a duty already breached or not yet overdue)."""
    opened = obligations_overdue_record(facts=facts, at=at or timezone.now())
    for breach in opened:
        breach_notify(breach=breach)
    return opened
