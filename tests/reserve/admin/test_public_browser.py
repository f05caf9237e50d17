"""The public transparency page in a real browser (headless Chromium, no login): the holdings chart
renders, the signed statement downloads, and an unpublished wallet appears nowhere in the HTML or
the JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reserve.custody.addresses import parse_address
from reserve.custody.services import agency_create, wallet_register
from reserve.proofs.services import reserve_proof_challenge_issue, reserve_proof_submit
from reserve.reconciliation.models import ChainBlock, WalletUtxo
from tests.reserve.admin.test_browser import browser  # noqa: F401 - the shared Chromium fixture
from tests.reserve.api.conftest import BTC, record_block
from tests.reserve.api.keys import SigningKey
from tests.users import make_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PUBLISHED, HIDDEN = SigningKey("public custodian"), SigningKey("hidden custodian")


def holding(wallet: Any, address: str, sats: int, height: int, label: str) -> None:
    WalletUtxo.objects.create(
        wallet=wallet,
        txid=label * 32,
        vout=0,
        value_sats=sats,
        script_pubkey=parse_address(address=address, network="regtest").script_pubkey,
        block=ChainBlock.objects.get(height=height),
        block_height=height,
    )


def test_the_public_page_in_a_browser(browser: Any, live_server: Any, tmp_path: Path) -> None:  # noqa: F811
    # given: a published wallet proven by a signed statement, and an unpublished one outside the perimeter
    operator = make_user("olga", "operator")
    agency = agency_create(name="Ministry of Finance", kind="ministry", actor=operator)
    shown = wallet_register(
        name="public-cold", agency=agency, kind="cold", network="regtest",
        addresses=[PUBLISHED.p2wpkh_address], actor=operator,
    )  # fmt: skip
    hidden = wallet_register(
        name="hidden-hot", agency=agency, kind="hot", network="regtest", in_perimeter=False,
        addresses=[HIDDEN.p2wpkh_address], actor=operator,
    )  # fmt: skip
    shown.published = True
    shown.save(update_fields=["published"])
    for height in (100, 101, 102):
        record_block(height)
    holding(shown, PUBLISHED.p2wpkh_address, 2 * BTC, 101, "a1")
    holding(shown, PUBLISHED.p2wpkh_address, BTC, 102, "b2")
    holding(hidden, HIDDEN.p2wpkh_address, 5 * BTC, 102, "c3")
    challenge = reserve_proof_challenge_issue(addresses=[PUBLISHED.p2wpkh_address], actor=operator)
    signature = {"address": PUBLISHED.p2wpkh_address, "signature": PUBLISHED.bip322(challenge.message)}
    proof = reserve_proof_submit(challenge=challenge, signatures=[signature], actor=operator)
    page = browser.new_context(base_url=live_server.url, accept_downloads=True).new_page()
    page.set_default_timeout(15_000)

    # when
    page.goto("/transparency/", wait_until="domcontentloaded")
    # then: the chart renders (a drawn line with a real size), the total is the published wallet's
    chart = page.locator("#holdings-chart polyline")
    assert chart.count() == 1
    box = page.locator("#holdings-chart").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    assert "3.00000000 BTC" in page.locator("#total").inner_text()
    # and the statement downloads
    with page.expect_download() as download:
        page.click("#statement-download")
    saved = tmp_path / "statement.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text())["signature"] == proof.statement_signature
    # and the unpublished wallet is nowhere, in the HTML or the JSON
    html = page.content()
    page.goto("/transparency/transparency.json", wait_until="domcontentloaded")
    body = page.content()
    for mark in ("hidden-hot", HIDDEN.p2wpkh_address, "Ministry of Finance"):
        assert mark not in html and mark not in body, mark
