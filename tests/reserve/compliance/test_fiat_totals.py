"""Fiat totals (e.g. total public funds) are dated facts a policy administrator records; nobody
edits or deletes one, not the service's role and not the owner: a correction is a new record."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from config.errors import PermissionDenied, ValidationFailed
from reserve.audit.models import AuditEvent
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.models import FiatTotal
from reserve.compliance.services import fiat_total_record
from tests.owner import owner_cursor, requires_role_split
from tests.users import make_user

AS_OF = datetime(2026, 12, 31, tzinfo=UTC)


def _record(actor: object, **overrides: object) -> FiatTotal:
    fields: dict[str, object] = {
        "name": "public_funds",
        "currency": "USD",
        "amount": "2000000000.00",
        "as_of": AS_OF,
        "reference": "Comptroller's annual report FY2026",
    }
    return fiat_total_record(actor=actor, **{**fields, **overrides})  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_policy_admin_records_a_total_and_a_correction_supersedes_it_from_its_date() -> None:
    admin = make_user("paula", "policy_admin")
    first = _record(admin)
    _record(admin, amount="2100000000.00", as_of=datetime(2027, 3, 1, tzinfo=UTC), reference="Amended budget")

    facts = ReservePolicyFacts()
    assert facts.fiat_total(name="public_funds", at=datetime(2027, 2, 28, tzinfo=UTC)).amount == Decimal(  # type: ignore[union-attr]
        "2000000000.00"
    )
    assert facts.fiat_total(name="public_funds", at=datetime(2027, 3, 1, tzinfo=UTC)).amount == Decimal(  # type: ignore[union-attr]
        "2100000000.00"
    )
    assert facts.fiat_total(name="public_funds", at=datetime(2026, 12, 30, tzinfo=UTC)) is None
    assert AuditEvent.objects.filter(action="fiat_total.record", object_id=str(first.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "12.345"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"amount": "1e30"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"name": "public funds!"}, "name"),
        ({"reference": "  "}, "reference"),
        ({"as_of": datetime(2026, 12, 31)}, "as_of"),
    ],
)
def test_a_bad_total_is_refused_naming_the_field(overrides: dict[str, object], field: str) -> None:
    admin = make_user("paula", "policy_admin")
    with pytest.raises(ValidationFailed) as caught:
        _record(admin, **overrides)
    assert field in caught.value.fields
    assert not FiatTotal.objects.exists()


@pytest.mark.django_db
def test_only_those_who_may_draft_policy_record_a_total() -> None:
    with pytest.raises(PermissionDenied):
        _record(make_user("olga", "operator"))
    assert not FiatTotal.objects.exists()


@requires_role_split
@pytest.mark.django_db(transaction=True)
def test_a_recorded_total_is_never_edited_or_deleted_by_raw_sql() -> None:
    total = _record(make_user("paula", "policy_admin"))
    for statement in (
        "UPDATE reserve_fiattotal SET amount = amount * 10 WHERE id = %s",
        "UPDATE reserve_fiattotal SET as_of = as_of - interval '1 year' WHERE id = %s",
        "DELETE FROM reserve_fiattotal WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            connection.cursor().execute(statement, [total.pk])
        with pytest.raises(DatabaseError, match="append-only"), owner_cursor() as cursor:
            cursor.execute(statement, [total.pk])
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        connection.cursor().execute("TRUNCATE reserve_fiattotal")
    # Nor is a bad total written beside the service: the CHECKs hold for the service's role too.
    for amount, currency in (("0", "USD"), ("1.00", "usd")):
        with pytest.raises(DatabaseError, match="reserve_fiattotal_"), transaction.atomic():
            connection.cursor().execute(
                "INSERT INTO reserve_fiattotal (name, currency, amount, as_of, reference, recorded_by_id, recorded_at)"
                " VALUES ('public_funds', %s, %s, now(), 'x', %s, now())",
                [currency, amount, total.recorded_by_id],
            )
    assert FiatTotal.objects.get().amount == Decimal("2000000000.00")
