"""The admin's transfer proposal names lots for specific identification: the form offers the open
lots by wallet, and what is picked goes to the same service as the API's `lots`; a lot of another
wallet, one already given up, or a value that is no lot id is refused on the field, nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reserve.compliance.models import Lot
from reserve.custody.models import Agency, Wallet
from reserve.transfers.models import Transfer
from tests.reserve.admin.conftest import EXTERNAL
from tests.reserve.admin.test_transfers_admin import proposal
from tests.reserve.approved_imports import import_transfers
from tests.reserve.conftest import TPUB_B, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def lots(operator: Any, agency: Agency, wallet: Wallet) -> dict[str, Lot]:
    """cold-01: a forfeiture given up entirely, then a purchase and a mining payout still held;
    vault-02: a donation."""
    register(operator, agency, "vault-02", TPUB_B, fingerprint="b8688df1", kind="multisig")
    header = "occurred_at,direction,category,amount_btc,fee_btc,txid,block_height,source_wallet,destination_wallet,"
    header += "external_address,provenance_reference\n"
    lines = [
        f"2026-01-05T10:00:00Z,inbound,forfeiture,1,0,{'a1' * 32},100,,cold-01,,Case 1",
        f"2026-01-06T10:00:00Z,inbound,purchase,1,0,{'a2' * 32},101,,cold-01,,Contract 2",
        f"2026-01-07T10:00:00Z,outbound,return_to_victims,0.9999,0.0001,{'a3' * 32},102,cold-01,,{EXTERNAL},Order 3",
        f"2026-01-08T10:00:00Z,inbound,mining_reward,1,0,{'a4' * 32},103,,cold-01,,Site 4",
        f"2026-01-09T10:00:00Z,inbound,donation,1,0,{'a5' * 32},104,,vault-02,,Gift 5",
    ]
    import_transfers(text=header + "\n".join(lines) + "\n", proposer=operator)
    return {lot.category: lot for lot in Lot.objects.all()}


def test_the_picked_lot_is_what_the_proposal_names_not_the_oldest(
    operator: Any, wallet: Wallet, lots: dict[str, Lot], signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    form = client.get(reverse("admin:reserve_transfer_add")).content.decode()
    mining = lots["mining_reward"]

    # when: a preview, then the submit, naming the mining payout (FIFO would take the purchase)
    data = proposal(wallet, idempotency_key="lots-1") | {"lots": [str(mining.pk)]}
    preview = client.post(reverse("admin:reserve_transfer_add"), {**data, "_preview": "1"}).content.decode()
    submitted = client.post(reverse("admin:reserve_transfer_add"), {**data, "_submit": "1"})

    # then: the form offers the open lots only, grouped by wallet
    assert f'value="{lots["purchase"].pk}"' in form and f'value="{lots["donation"].pk}"' in form
    assert f'value="{lots["forfeiture"].pk}"' not in form
    assert "vault-02" in form and "left of mining_reward" in form
    assert f"#{mining.pk}" in preview and f'type="hidden" name="lots" value="{mining.pk}"' in preview
    assert submitted.status_code == 302, submitted.content.decode()[:2000]
    assert Transfer.objects.get(idempotency_key="lots-1").lot_ids == [mining.pk]


@pytest.mark.parametrize(
    ("category", "message"),
    [("donation", "not lots of the source wallet"), ("forfeiture", "have nothing left"), (None, "valid choice")],
)
def test_a_lot_of_another_wallet_or_given_up_is_refused_on_the_field(
    operator: Any,
    wallet: Wallet,
    lots: dict[str, Lot],
    signed_in: Callable[[Any], Client],
    category: str | None,
    message: str,
) -> None:
    # given: vault-02's donation, cold-01's forfeiture (taken whole by the outflow), or no lot id
    picked = str(lots[category].pk) if category else "lot-one"
    transfers = Transfer.objects.count()

    # when
    for step in ("_preview", "_submit"):
        response = signed_in(operator).post(
            reverse("admin:reserve_transfer_add"),
            {**proposal(wallet, idempotency_key=f"lots-{step}"), "lots": [picked], step: "1"},
        )

        # then
        assert response.status_code == 400, step
        assert message in " ".join(response.context["form"].errors["lots"]), response.context["form"].errors
    assert Transfer.objects.count() == transfers
