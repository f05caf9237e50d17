"""CSV imports from the admin (all or nothing, the bad line named) and the dashboard's figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Wallet
from reserve.imports.models import ImportBatch, ImportStatus
from reserve.pricing.models import PriceQuote
from reserve.transfers.models import Transfer, TransferStatus
from reserve.transfers.services import transfer_create, transfer_propose, transfer_record_observed
from tests.reserve.admin.conftest import BTC, EXTERNAL

pytestmark = pytest.mark.django_db

HEADER = "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,provenance_reference\n"


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("history.csv", text.encode(), content_type="text/csv")


def test_an_upload_proposes_a_batch_that_two_others_approve_by_its_hash(
    operator: Any, approver: Any, approver2: Any, wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given
    client = signed_in(operator)
    url = reverse("admin:reserve_transfer_import")
    good = f"2026-01-05T10:00:00Z,inbound,forfeiture,1.5,{'aa' * 32},100,cold-01,Case 1\n"
    bad = f"2026-01-06T10:00:00Z,inbound,forfeiture,0.1234567891,{'bb' * 32},101,cold-01,Case 2\n"
    # when: a bad file
    refused = client.post(url, {"file": upload(HEADER + bad + good)})
    # then: named, nothing stored
    assert refused.status_code == 400
    assert "Nothing was proposed. line 2, amount_btc:" in refused.content.decode()
    assert not ImportBatch.objects.exists()
    # when: a good file
    proposed = client.post(url, {"file": upload(HEADER + good)}, follow=True)
    # then: a pending batch, its hash and rows shown, nothing posted, no buttons for the proposer
    batch = ImportBatch.objects.get()
    page = proposed.content.decode()
    assert batch.file_sha256 in page and "Case 1" in page
    assert 'id="approve-button"' not in page
    assert not Transfer.objects.exists()
    # when: the operator posts an approval anyway, and an approver approves another hash
    decide = reverse("admin:reserve_importbatch_approve", args=[batch.pk])
    assert client.post(decide, {"file_sha256": batch.file_sha256}).status_code == 403
    wrong = signed_in(approver).post(decide, {"file_sha256": "0" * 64}, follow=True)
    # then: refused, nothing counted
    assert f"has file hash {batch.file_sha256}, not {'0' * 64}" in wrong.content.decode()
    assert not batch.approvals.exists()
    # when: two approvers approve what they were shown
    first = signed_in(approver).get(reverse("admin:reserve_importbatch_change", args=[batch.pk])).content.decode()
    assert 'id="approve-button"' in first
    signed_in(approver).post(decide, {"file_sha256": batch.file_sha256})
    assert not Transfer.objects.exists()
    done = signed_in(approver2).post(decide, {"file_sha256": batch.file_sha256}, follow=True)
    # then: posted once
    assert "posted" in done.content.decode()
    transfer = Transfer.objects.get()
    assert (transfer.status, transfer.amount_sats) == (TransferStatus.FINAL, 150_000_000)
    ImportBatch.objects.get(status=ImportStatus.POSTED)


def test_price_quotes_are_proposed_all_or_nothing(operator: Any, signed_in: Callable[[Any], Client]) -> None:
    # given
    client = signed_in(operator)
    url = reverse("admin:reserve_pricequote_import")
    text = "time,currency,price,source\n2026-01-01T00:00:00Z,USD,95000.5,exchange-a\n2026-01-02T00:00:00Z,usd,1,x\n"
    # when
    refused = client.post(url, {"file": upload(text)})
    accepted = client.post(url, {"file": upload(text.rsplit("\n", 2)[0] + "\n")})
    # then: a pending batch; no quote until it is approved
    assert refused.status_code == 400 and "line 3, currency" in refused.content.decode()
    assert accepted.status_code == 302
    assert ImportBatch.objects.get().kind == "prices"
    assert not PriceQuote.objects.exists()


def test_the_dashboard_shows_holdings_caps_breaches_and_what_awaits_the_user(
    operator: Any,
    approver: Any,
    funded_wallet: Wallet,
    holdings_cap: Any,
    signed_in: Callable[[Any], Client],
) -> None:
    # given: 2 BTC held under a 3 BTC cap, a pending outflow, then an unproposed 1.5 BTC inflow
    # (booked from the chain and judged after the fact: a breach)
    draft = transfer_create(
        actor=operator,
        direction="outbound",
        category="return_to_victims",
        amount_sats=BTC // 10,
        source_wallet=funded_wallet,
        external_address=EXTERNAL,
    )
    pending = transfer_propose(transfer=draft, actor=operator)
    client = signed_in(approver)
    before = client.get(reverse("admin:index")).context
    transfer_record_observed(
        direction="inbound",
        amount_sats=3 * BTC // 2,
        txid="cd" * 32,
        vout=0,
        block_height=200,
        block_hash="ef" * 32,
        occurred_at=datetime(2026, 2, 1, tzinfo=UTC),
        destination_wallet=funded_wallet,
    )
    # when
    response = client.get(reverse("admin:index"))
    # then
    (cap_before,) = before["caps"]
    assert (cap_before.measured_sats, cap_before.limit_sats, cap_before.margin_sats) == (2 * BTC, 3 * BTC, BTC)
    assert before["open_breach_count"] == 0
    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["holdings"].total_sats == 7 * BTC // 2
    assert "3.50000000 BTC" in page and "350,000,000 sats" in page
    assert response.context["agencies"] == [("Ministry of Finance", 7 * BTC // 2)]
    (cap,) = response.context["caps"]
    assert (cap.verdict, cap.margin_sats) == ("deny", -BTC // 2)
    assert response.context["open_breach_count"] == 1
    assert 'id="open-breaches"' in page and "holdings_cap" in page
    assert [transfer.pk for transfer in response.context["awaiting"]] == [pending.pk]
    assert 'id="awaiting-decision"' in page


def test_the_no_net_accumulation_ceiling_shows_its_margin(
    policy_admins: list[Any], funded_wallet: Wallet, signed_in: Callable[[Any], Client]
) -> None:
    # given: baseline 1 BTC from 1 Jan; the 2 BTC forfeiture of 5 Jan is exempt and raises the ceiling
    author, first, second = policy_admins
    draft = policy_create_draft(
        name="IMF ceiling",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "no_net_accumulation", "params": {"baseline_sats": BTC}}],
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        author=author,
    )
    policy_approve(version=draft, approver=first)
    policy_approve(version=draft, approver=second)
    # when
    response = signed_in(author).get(reverse("admin:index"))
    # then
    (ceiling,) = response.context["caps"]
    assert (ceiling.rule_type, ceiling.verdict) == ("no_net_accumulation", "allow")
    assert (ceiling.measured_sats, ceiling.limit_sats, ceiling.margin_sats) == (2 * BTC, 3 * BTC, BTC)
    assert ceiling.used_percent == 66
    assert "IMF ceiling v1" in response.content.decode()
