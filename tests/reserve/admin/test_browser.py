"""The admin in a real browser (headless Chromium driven by Playwright) against the live server:
log in, register a wallet from a descriptor after previewing its addresses, fund it with a CSV
import, propose a transfer after the policy preview, and approve it as two other users; and draft a
policy rule by rule with JavaScript off."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from ledger.models import AccountBalance, PendingStatus
from policy.models import PolicyVersion
from reserve.custody.models import Wallet
from reserve.custody.services import agency_create
from reserve.imports.models import ImportBatch
from reserve.transfers.models import Transfer, TransferStatus
from tests.reserve.admin.conftest import BTC, DESCRIPTOR, EXTERNAL, FIRST_RECEIVE, make_user
from tests.users import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# serialized_rollback: the role groups come from data migrations, which an earlier transactional
# test's flush would have removed.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _unavailable(reason: str) -> None:
    # CI installs Chromium: there a missing browser is a failure, elsewhere a skip that says why.
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test must run)")
    pytest.skip(reason)


@pytest.fixture
def browser(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chromium, closed before the live server stops (its kept-alive connections hold server threads)."""
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # still plain synchronous calls, which Django would otherwise refuse next to a running loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # The test's ORM calls ran beside Playwright's loop on their own connection: close it, or
        # it keeps a session open on the test database after the run.
        connections.close_all()


def signed_in_page(
    browser: Any, base_url: str, username: str, landing: str = "/admin/", *, password: str = PASSWORD, **context: Any
) -> Any:
    """A fresh browser session signed in through the login form, landing on `landing` (`context`:
    Playwright's browser-context options, e.g. the viewport)."""
    page = browser.new_context(base_url=base_url, **context).new_page()
    page.set_default_timeout(15_000)
    page.goto(
        "/admin/login/" if landing == "/admin/" else f"/admin/login/?next={landing}", wait_until="domcontentloaded"
    )
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("#login-form button[type=submit]")
    assert page.url.endswith(landing), page.url
    return page


def test_register_propose_and_approve_in_a_browser(browser: Any, live_server: Any, tmp_path: Path) -> None:
    # given
    operator = make_user("olga", "operator")
    make_user("ana", "approver")
    make_user("bruno", "approver")
    agency_create(name="Ministry of Finance", kind="ministry", actor=operator)
    page = signed_in_page(browser, live_server.url, "olga")
    assert page.locator("#dashboard").is_visible()

    # when: a wallet is registered from a descriptor, after previewing its addresses
    page.goto("/admin/reserve/wallet/add/", wait_until="domcontentloaded")
    page.fill("input[name=name]", "cold-01")
    page.select_option("select[name=agency]", label="Ministry of Finance")
    page.select_option("select[name=kind]", "cold")
    page.select_option("select[name=network]", "regtest")
    page.fill("input[name=gap_limit]", "3")
    page.fill("textarea[name=descriptors]", DESCRIPTOR)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button[name=_preview]")
    # then
    assert FIRST_RECEIVE in page.locator("#address-preview").inner_text()
    assert not Wallet.objects.exists()
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button[name=_register]")
    assert "registered with 6 watched scripts" in page.content()
    wallet = Wallet.objects.get(name="cold-01")

    # when: the wallet's history is imported (2 BTC seized), then a return to victims is proposed
    history = tmp_path / "history.csv"
    history.write_text(
        "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet\n"
        f"2026-01-05T10:00:00Z,inbound,forfeiture,2,{'ab' * 32},100,cold-01\n"
    )
    page.goto("/admin/reserve/transfer/import/", wait_until="domcontentloaded")
    page.set_input_files("input[name=file]", str(history))
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button[name=_import]")
    assert "nothing is posted until 2 approvers other than you approve it" in page.content().lower()
    batch = ImportBatch.objects.get()
    assert page.locator("#approve-button").count() == 0  # the proposer never approves
    for approver in ("ana", "bruno"):
        approver_page = signed_in_page(
            browser, live_server.url, approver, landing=f"/admin/reserve/importbatch/{batch.pk}/change/"
        )
        assert batch.file_sha256 in approver_page.locator("#import-sha256").inner_text()
        with approver_page.expect_navigation(wait_until="domcontentloaded"):
            approver_page.click("#approve-button")
    assert "posted" in approver_page.locator("#import-status").inner_text().lower()
    page.goto("/admin/reserve/transfer/add/", wait_until="domcontentloaded")
    page.select_option("select[name=direction]", "outbound")
    page.select_option("select[name=category]", "return_to_victims")
    page.fill("input[name=amount_btc]", "0.5")
    page.fill("input[name=fee_btc]", "0.0001")
    page.select_option("select[name=source_wallet]", label="cold-01")
    page.fill("input[name=external_address]", EXTERNAL)
    page.fill("input[name=provenance_reference]", "Court order 2026-17")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button[name=_preview]")
    # then: the policy's decision is shown before anything is stored
    assert "needs 2 approvals from approvers" in page.locator("#policy-preview").inner_text()
    assert not Transfer.objects.filter(direction="outbound").exists()
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button[name=_submit]")
    transfer = Transfer.objects.get(direction="outbound")
    assert transfer.status == TransferStatus.PENDING_APPROVAL
    assert "0 / 2" in page.locator("#quorum-progress").inner_text()
    assert page.locator("#approve-button").count() == 0  # an operator never approves

    # when: two other users approve it
    for approver, progress in (("ana", "1 / 2"), ("bruno", "2 / 2")):
        approver_page = signed_in_page(
            browser, live_server.url, approver, landing=f"/admin/reserve/transfer/{transfer.pk}/change/"
        )
        with approver_page.expect_navigation(wait_until="domcontentloaded"):
            approver_page.click("#approve-button")
        assert progress in approver_page.locator("#quorum-progress").inner_text()

    # then: approved, with amount + fee reserved on the wallet's ledger account
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.APPROVED
    assert transfer.pending is not None and transfer.pending.status == PendingStatus.OPEN
    balance = AccountBalance.objects.get(account=wallet.ledger_account)
    assert (balance.balance_sats, balance.pending_sats) == (2 * BTC, BTC // 2 + 10_000)
    assert "open" in approver_page.locator("#ledger-reservation").inner_text()


def test_a_policy_administrator_builds_a_rule_in_a_browser_without_javascript(browser: Any, live_server: Any) -> None:
    # given: JavaScript off, so every step is a plain form post
    make_user("pia", "policy_admin")
    signed_in = signed_in_page(browser, live_server.url, "pia").context.storage_state()
    page = browser.new_context(base_url=live_server.url, storage_state=signed_in, java_script_enabled=False).new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/policy/policyversion/add/", wait_until="domcontentloaded")
    page.fill("input[name=name]", "Outflow limit")
    # when: a per-transfer limit is added, filled in BTC, and saved by Enter in its amount field
    page.select_option("select[name=add_rule_type]", "transfer_limit")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("button[name=_add_rule]")
    page.fill("input[name=effective_from]", "2027-01-01 00:00")
    page.select_option("select[name=rule-0-direction]", "outbound")
    page.check("input[name=rule-0-categories][value=sale]")
    page.fill("input[name=rule-0-max_sats]", "0.5")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.press("input[name=rule-0-max_sats]", "Enter")
    # then: Enter saved the draft (it did not remove the row), with the amount in sats
    assert "Draft version 1 of Outflow limit saved" in page.content()
    version = PolicyVersion.objects.get(policy__name="Outflow limit")
    assert version.rules == [
        {"type": "transfer_limit", "params": {"max_sats": 50_000_000, "direction": "outbound", "categories": ["sale"]}}
    ]


def test_the_admin_reads_without_javascript(browser: Any, live_server: Any) -> None:
    # given: scripts off (unfold cloaks the whole page until its scripts run)
    make_user("aude", "auditor")
    # when: the auditor signs in through the form and opens the dashboard and a list
    page = signed_in_page(browser, live_server.url, "aude", java_script_enabled=False)
    # then: the dashboard and its server-drawn holdings chart are shown, pop-ups are not
    assert page.locator("#dashboard").is_visible()
    assert page.locator("#holdings-charts svg").first.is_visible()
    page.goto("/admin/reserve/transfer/", wait_until="domcontentloaded")
    assert page.locator("#result_list, #changelist").first.is_visible()
