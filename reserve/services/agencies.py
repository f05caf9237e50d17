"""Writes for holding entities and counterparties."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.errors import ValidationFailed
from reserve.audit import audit_record, snapshot
from reserve.models import Agency, AgencyKind, Counterparty, CounterpartyKind
from reserve.roles import require_permission


def agency_create(*, name: str, kind: str = AgencyKind.OTHER, jurisdiction: str = "", actor: Any) -> Agency:
    require_permission(actor, "add_agency", action="create an agency")
    name = name.strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if kind not in AgencyKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of {', '.join(AgencyKind.values)}")
    with transaction.atomic():
        if Agency.objects.filter(name=name).exists():
            raise ValidationFailed.for_field("name", f"an agency named {name!r} already exists")
        agency = Agency.objects.create(name=name, kind=kind, jurisdiction=jurisdiction.strip(), created_by=actor)
        audit_record(actor=actor, action="agency.create", instance=agency, before=None, after=snapshot(agency))
    return agency


def counterparty_create(
    *, name: str, kind: str = CounterpartyKind.OTHER, reference: str = "", actor: Any
) -> Counterparty:
    require_permission(actor, "add_counterparty", action="create a counterparty")
    name = name.strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if kind not in CounterpartyKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of {', '.join(CounterpartyKind.values)}")
    with transaction.atomic():
        if Counterparty.objects.filter(name=name).exists():
            raise ValidationFailed.for_field("name", f"a counterparty named {name!r} already exists")
        counterparty = Counterparty.objects.create(name=name, kind=kind, reference=reference.strip(), created_by=actor)
        audit_record(
            actor=actor, action="counterparty.create", instance=counterparty, before=None, after=snapshot(counterparty)
        )
    return counterparty
