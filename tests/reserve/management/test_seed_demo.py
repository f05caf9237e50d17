"""`manage.py seed_demo` builds the demo through the services and a second run changes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command

from ledger.models import JournalTransaction, PendingTransaction
from reserve.audit.models import AuditEvent
from reserve.custody.models import Agency, Wallet, WatchedScript
from reserve.transfers.models import Approval, Transfer


def counts() -> dict[str, int]:
    models = (Agency, Wallet, WatchedScript, Transfer, Approval, AuditEvent, JournalTransaction, PendingTransaction)
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_seed_demo_is_idempotent() -> None:
    # when
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    call_command("seed_demo", stdout=StringIO())
    # then
    assert counts() == first
    assert (first["Agency"], first["Wallet"], first["Transfer"]) == (3, 4, 4)
    statuses = dict(Transfer.objects.values_list("idempotency_key", "status"))
    assert statuses == {
        "seed-demo:demo-forfeiture": "final",
        "seed-demo:demo-mining": "confirmed",
        "seed-demo:demo-consolidation": "approved",
        "seed-demo:demo-restitution": "pending_approval",
    }
    assert "approver1" in out.getvalue() and "password" in out.getvalue()
