"""Wallet registration with the address preview, refusals that name the field, and agencies
created through their service."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.audit.models import AuditEvent
from reserve.custody.models import Agency, Wallet, WatchedScript
from tests.reserve.admin.conftest import DESCRIPTOR, FIRST_RECEIVE, TPRV

pytestmark = pytest.mark.django_db


def registration(agency: Agency, **overrides: str) -> dict[str, str]:
    return {
        "name": "vault-07",
        "agency": str(agency.pk),
        "kind": "multisig",
        "network": "regtest",
        "in_perimeter": "on",
        "birthday_height": "0",
        "gap_limit": "5",
        "descriptors": DESCRIPTOR,
        "addresses": "",
        **overrides,
    }


def test_preview_shows_the_first_addresses_and_registers_only_what_was_previewed(
    operator: Any, agency: Agency, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    url = reverse("admin:reserve_wallet_add")
    # when
    preview = client.post(url, {**registration(agency), "_preview": "1"})
    # then: the BIP84 vector's first receive address is shown and nothing is stored
    page = preview.content.decode()
    assert preview.status_code == 200
    assert FIRST_RECEIVE in page and "m/84h/1h/0h/0/0" in page and "m/84h/1h/0h/1/4" in page
    assert f">{html.escape(DESCRIPTOR)}</textarea>" in page  # re-displayed as typed, for the register step
    assert not Wallet.objects.filter(name="vault-07").exists()
    digest = preview.context["form"].data["previewed"]
    # when: the input changed after the preview, registering shows the new preview instead
    changed = client.post(url, {**registration(agency, gap_limit="6"), "previewed": digest, "_register": "1"})
    # then
    assert changed.status_code == 200
    assert "The input changed since the preview" in changed.content.decode()
    assert not Wallet.objects.filter(name="vault-07").exists()
    # when: what was previewed is registered
    saved = client.post(url, {**registration(agency), "previewed": digest, "_register": "1"})
    # then
    wallet = Wallet.objects.get(name="vault-07")
    assert saved.status_code == 302 and saved["Location"] == reverse("admin:reserve_wallet_change", args=[wallet.pk])
    assert WatchedScript.objects.filter(wallet=wallet).count() == 10  # gap limit 5 on chains 0 and 1
    assert WatchedScript.objects.get(wallet=wallet, chain=0, index=0).address == FIRST_RECEIVE
    assert AuditEvent.objects.filter(action="wallet.register", object_id=str(wallet.pk), actor=operator).exists()


def test_a_private_key_is_refused_with_the_reason_and_not_echoed_back(
    operator: Any, agency: Agency, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    leaked = f"wpkh([73c5da0a/84h/1h/0h]{TPRV}/0/*)"
    # when
    response = client.post(
        reverse("admin:reserve_wallet_add"), {**registration(agency, descriptors=leaked), "_preview": "1"}
    )
    # then
    page = response.content.decode()
    assert response.status_code == 400
    (error,) = response.context["form"].errors["descriptors"]
    assert error.startswith("line 1: tprv…: this is private key material") and "Nothing was stored" in error
    assert TPRV not in page
    assert not Wallet.objects.exists()


def test_a_wrong_network_address_names_the_field_and_line(
    operator: Any, agency: Agency, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    addresses = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080\nbc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    # when
    response = client.post(
        reverse("admin:reserve_wallet_add"),
        {**registration(agency, descriptors="", addresses=addresses), "_preview": "1"},
    )
    # then
    (error,) = response.context["form"].errors["addresses"]
    assert response.status_code == 400
    assert error.startswith("line 2: ") and "mainnet" in error and "regtest" in error


def test_an_agency_is_created_through_its_service(operator: Any, signed_in: Callable[[Any], Client]) -> None:
    # given
    client = signed_in(operator)
    url = reverse("admin:reserve_agency_add")
    # when
    created = client.post(url, {"name": "Central Bank", "kind": "central_bank", "jurisdiction": "SV"})
    duplicate = client.post(url, {"name": "Central Bank", "kind": "central_bank"})
    # then
    agency = Agency.objects.get(name="Central Bank")
    assert created.status_code == 302
    assert AuditEvent.objects.filter(action="agency.create", object_id=str(agency.pk)).exists()
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.context["form"].errors["name"][0]
