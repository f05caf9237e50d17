"""The demo's tour in a real browser (headless Chromium) as each role, on the demo `seed_demo`
builds on a regtest node and one reconciliation: the operator's dashboard with its charts and the
staged breach explained, a proposal through its two checkers, a PSBT downloaded from the signing
panel, the staged discrepancy resolved from its own page, the breach read by a policy
administrator, and the auditor's read-only view. The screenshots the README's tour shows are
taken here, into the test's temporary directory (docs/tour/ holds the committed copies)."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from policy.models import PolicyBreach
from reserve.custody.models import Wallet
from reserve.management.commands.seed_demo import USERS
from reserve.reconciliation.models import Discrepancy, DiscrepancyStatus
from reserve.transfers.models import BuiltPsbt, Transfer, TransferStatus
from tests.regtest.node import RegtestNode
from tests.reserve.admin.test_browser import browser, signed_in_page  # noqa: F401 - the shared Chromium fixture

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORDS = {username: password for username, _role, password in USERS}
# Small screenshots for the README: a narrow window, drawn at 60% scale.
VIEWPORT = {"viewport": {"width": 1200, "height": 800}, "device_scale_factor": 0.6}


def sign_in(browser: Any, live_server: Any, username: str, landing: str = "/admin/") -> Any:  # noqa: F811
    return signed_in_page(browser, live_server.url, username, landing, password=PASSWORDS[username], **VIEWPORT)


def test_the_demo_tour_as_each_role(
    browser: Any,  # noqa: F811
    live_server: Any,
    regtest_node: RegtestNode,
    settings: Any,
    tmp_path: Path,
) -> None:
    # given: the demo, seeded on the regtest chain and reconciled once (as `make run` does)
    settings.BITCOIN_NETWORK = "regtest"
    settings.BITCOIN_RPC_URL = regtest_node.rpc_url
    call_command("seed_demo", stdout=StringIO())
    call_command("reconcile", stdout=StringIO())
    shots = tmp_path / "tour"
    shots.mkdir()

    # when: the operator logs in
    operator = sign_in(browser, live_server, "operator")
    # then: the dashboard charts holdings against the caps, and explains the one staged breach and discrepancy
    dashboard = operator.locator("#dashboard")
    assert operator.locator("svg.holdings-chart").count() == 3
    assert operator.locator("#open-breach-count").inner_text() == "1"
    assert operator.locator("#open-discrepancy-count").inner_text() == "1"
    assert "El Salvador-like: no net accumulation" in operator.locator("#open-breaches").inner_text()
    assert "Bitcoin arrived that no transfer proposed" in operator.locator("#open-discrepancies").inner_text()
    box = dashboard.bounding_box()
    assert box is not None
    # the top of the dashboard: the counts, the breach and the discrepancy explained
    operator.screenshot(path=shots / "1-dashboard.png", clip={**box, "height": min(box["height"], 760)})
    # and all the dashboard and a wallet's page load, scripts on, comes from the service itself (no CDN)
    fetched: list[str] = []
    operator.on("request", lambda request: fetched.append(request.url))
    operator.reload(wait_until="networkidle")
    mining = Wallet.objects.get(name="mining-payout-01")
    operator.goto(f"/admin/reserve/wallet/{mining.pk}/change/", wait_until="networkidle")
    assert operator.locator("svg.holdings-chart").count() >= 1
    assert len(fetched) > 2 and all(url.startswith((live_server.url, "data:")) for url in fetched), fetched

    # when: the restitution the operator proposed goes to the two approvers
    restitution = Transfer.objects.get(idempotency_key="seed-demo:restitution")
    transfer_page = f"/admin/reserve/transfer/{restitution.pk}/change/"
    operator.goto(transfer_page, wait_until="domcontentloaded")
    # then: the maker sees the quorum waiting and cannot approve
    assert "0 / 2" in operator.locator("#quorum-progress").inner_text()
    assert operator.locator("#approve-button:not([disabled])").count() == 0
    for approver, progress in (("approver1", "1 / 2"), ("approver2", "2 / 2")):
        checker = sign_in(browser, live_server, approver, landing=transfer_page)
        # beside the decision, what the source wallet has available
        assert checker.locator("#source-funds").inner_text().startswith("Wallet seizure-hot-01 has ")
        with checker.expect_navigation(wait_until="domcontentloaded"):
            checker.click("#approve-button")
        assert progress in checker.locator("#quorum-progress").inner_text()
    checker.locator("#transfer-decision").screenshot(path=shots / "2-approved.png")
    restitution.refresh_from_db()
    assert restitution.status == TransferStatus.APPROVED

    # when: the operator downloads the approved tranche's PSBT from its signing panel
    tranche = Transfer.objects.get(idempotency_key="seed-demo:second-tranche")
    operator.goto(f"/admin/reserve/transfer/{tranche.pk}/change/", wait_until="domcontentloaded")
    panel = operator.locator("#transfer-psbt")
    assert "nobody yet" in panel.locator("#psbt-signers").inner_text()
    with operator.expect_download() as download:
        operator.click("#psbt-download")
    # then: the file is the PSBT the service built, for the custodians to sign
    psbt = Path(download.value.path()).read_bytes()
    assert psbt.startswith(b"psbt\xff") and psbt == bytes(BuiltPsbt.objects.get(transfer=tranche).combined)
    assert download.value.suggested_filename == f"transfer-{tranche.pk}.psbt"
    panel.screenshot(path=shots / "3-psbt.png")

    # when: the staged discrepancy is resolved from its own page, reached from the dashboard
    operator.goto("/admin/", wait_until="domcontentloaded")
    with operator.expect_navigation(wait_until="domcontentloaded"):
        operator.locator("#open-discrepancies a").first.click()
    operator.fill("#resolve-reason", "Unsolicited donation from a known sender; accepted by the board")
    with operator.expect_navigation(wait_until="domcontentloaded"):
        operator.click("#discrepancy-resolve-button")
    # then
    assert operator.locator("#discrepancy-status").inner_text() == "resolved"
    assert "accepted by the board" in operator.locator("#discrepancy-resolution").inner_text()
    operator.locator("#discrepancy-panel").screenshot(path=shots / "4-discrepancy.png")
    assert not Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).exists()

    # when: a policy administrator reads the breach the donation caused
    breach = PolicyBreach.objects.get(status="open")
    breach_page = f"/admin/policy/policybreach/{breach.pk}/change/"
    policy_admin = sign_in(browser, live_server, "policyadmin1", landing=breach_page)
    # then: its panel says what was measured against which limit, at which block
    text = policy_admin.locator("#breach-panel").inner_text()
    assert "no_net_accumulation breach" in text and f"at block {breach.block_height}" in text
    policy_admin.locator("#breach-panel").screenshot(path=shots / "5-breach.png")

    # when: the auditor logs in
    auditor = sign_in(browser, live_server, "auditor")
    # then: the same books and charts, with nothing to decide
    assert auditor.locator("svg.holdings-chart").count() == 3
    assert auditor.locator("#open-discrepancy-count").inner_text() == "0"
    assert auditor.locator("#approve-button").count() == 0
    auditor.locator("#holdings-charts").screenshot(path=shots / "6-auditor-charts.png")
    saved = sorted(path.name for path in shots.iterdir())
    assert saved == [
        "1-dashboard.png",
        "2-approved.png",
        "3-psbt.png",
        "4-discrepancy.png",
        "5-breach.png",
        "6-auditor-charts.png",
    ]
    # and they are the pictures the README's tour shows, each kept in docs/tour/
    shown = re.findall(r"\(docs/tour/([\w-]+\.png)\)", (ROOT / "README.md").read_text())
    assert shown == saved == sorted(path.name for path in (ROOT / "docs" / "tour").iterdir())
