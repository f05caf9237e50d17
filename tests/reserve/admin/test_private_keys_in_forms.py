"""Ways 7 and 5 of issue 11 in the admin: a private key typed into the transfer proposal form is a
form error on its field, wiped from the re-displayed page, and nothing is stored, on preview and
submit; a crafted hidden idempotency key in the services' namespace is refused the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.transfers.models import Transfer
from tests.reserve.admin.conftest import EXTERNAL
from tests.secret_keys import TPRV, WIF_MAINNET

pytestmark = pytest.mark.django_db


def proposal(wallet: Wallet, **overrides: str) -> dict[str, Any]:
    return {
        "direction": "outbound",
        "category": "return_to_victims",
        "amount_btc": "0.5",
        "fee_btc": "0.0001",
        "source_wallet": str(wallet.pk),
        "external_address": EXTERNAL,
        "provenance_reference": "Court order 2026-17",
        "memo": "",
        "idempotency_key": "form-keys",
        **overrides,
    }


@pytest.mark.parametrize("button", ["_preview", "_submit"])
@pytest.mark.parametrize(("field", "secret"), [("memo", f"key {WIF_MAINNET}"), ("provenance_reference", TPRV)])
def test_a_key_in_the_proposal_form_is_an_error_on_its_field(
    operator: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client], button: str, field: str, secret: str
) -> None:
    # given
    client = signed_in(operator)
    transfers, events = Transfer.objects.count(), AuditEvent.objects.count()
    # when
    response = client.post(
        reverse("admin:reserve_transfer_add"), {**proposal(funded_wallet, **{field: secret}), button: "1"}
    )
    # then
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field] and "private key" in errors[field][0]
    assert secret not in response.content.decode()
    assert (Transfer.objects.count(), AuditEvent.objects.count()) == (transfers, events)


@pytest.mark.parametrize("key", ["observed:" + "ab" * 32 + ":0:inbound::1", "reserve:transfer:1:confirm"])
def test_a_reserved_idempotency_key_in_the_hidden_field_is_refused(
    operator: Any, funded_wallet: Wallet, signed_in: Callable[[Any], Client], key: str
) -> None:
    # Way 5: the form's hidden key is the client's; crafting one in the services' namespace fails.
    client = signed_in(operator)
    transfers = Transfer.objects.count()
    data = {**proposal(funded_wallet, idempotency_key=key), "_submit": "1"}
    response = client.post(reverse("admin:reserve_transfer_add"), data)
    assert response.status_code == 400
    assert "reserved" in response.context["form"].errors["idempotency_key"][0]
    assert Transfer.objects.count() == transfers


def test_a_wallet_named_by_a_key_is_refused_on_register_and_not_echoed(
    operator: Any, agency: Any, signed_in: Callable[[Any], Client]
) -> None:
    # given: a wallet registration whose name is a WIF, previewed
    client = signed_in(operator)
    url = reverse("admin:reserve_wallet_add")
    data = {
        "name": WIF_MAINNET,
        "agency": str(agency.pk),
        "kind": "cold",
        "network": "regtest",
        "in_perimeter": "on",
        "birthday_height": "0",
        "gap_limit": "5",
        "descriptors": "",
        "addresses": EXTERNAL,
    }
    digest = client.post(url, {**data, "_preview": "1"}).context["form"].data["previewed"]
    # when
    response = client.post(url, {**data, "previewed": digest, "_register": "1"})
    # then
    assert response.status_code == 400
    assert "private key" in response.context["form"].errors["name"][0]
    assert WIF_MAINNET not in response.content.decode()
    assert not Wallet.objects.exists()
