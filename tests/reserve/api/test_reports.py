"""Report contents: BIP-329 labels, the compliance report per rule and day, the chain verification,
the transfer detail and the dry run of a policy."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from policy.models import PolicyEvaluation
from policy.services import policy_approve, policy_create_draft
from policy.types import PolicyScope
from reserve.proofs.models import PeriodAttestation
from reserve.proofs.statements import statement_sign
from reserve.reconciliation.models import ChainBlock, WalletUtxo
from reserve.transfers.coins import utxo_freeze, utxo_unfreeze
from tests.reserve.api.conftest import BTC, SIGNING_KEY, TPUB_A, Books, block_hash, make_user


@pytest.mark.django_db
def test_labels_are_bip329_json_lines(clients: dict[str, Any], books: Books) -> None:
    # when
    response = clients["auditor"].get("/api/v1/labels/")
    # then
    assert response["Content-Type"].startswith("application/jsonl")
    records = [json.loads(line) for line in response.content.decode().splitlines()]
    assert {"type": "xpub", "ref": TPUB_A, "label": "cold-01"} in records
    assert {"type": "addr", "ref": SIGNING_KEY.p2pkh_address, "label": "signer-03"} in records
    derived = next(r for r in records if r["type"] == "addr" and r["label"] == "cold-01 m/84h/1h/0h/0/0")
    assert derived["origin"] == "wpkh([73c5da0a/84h/1h/0h])"
    transactions = {r["ref"]: r["label"] for r in records if r["type"] == "tx"}
    assert transactions[books.transfers[0].txid] == f"Transfer #{books.transfers[0].pk}: inbound forfeiture (Order 7)"
    outputs = [r for r in records if r["type"] == "output"]
    assert f"{books.transfers[0].txid}:0" in {r["ref"] for r in outputs}
    assert all(set(r) <= {"type", "ref", "label", "origin", "spendable"} for r in records)


@pytest.mark.django_db
def test_a_frozen_coin_is_exported_not_spendable(clients: dict[str, Any], users: dict[str, Any], books: Books) -> None:
    # given: the coin of the first forfeiture, scanned and frozen by an operator
    forfeiture = books.transfers[0]
    assert forfeiture.block_height is not None and forfeiture.destination_wallet is not None
    coin = WalletUtxo.objects.create(
        wallet=forfeiture.destination_wallet,
        txid=forfeiture.txid,
        vout=0,
        value_sats=forfeiture.amount_sats,
        script_pubkey=b"\x00\x14" + b"\x01" * 20,
        block=ChainBlock.objects.get(height=forfeiture.block_height),
        block_height=forfeiture.block_height,
    )

    def spendable() -> dict[str, bool]:
        lines = clients["auditor"].get("/api/v1/labels/").content.decode().splitlines()
        return {r["ref"]: r["spendable"] for r in map(json.loads, lines) if r["type"] == "output"}

    ref = f"{forfeiture.txid}:0"
    assert spendable()[ref] is True
    utxo_freeze(utxo_id=coin.pk, actor=users["operator"], reason="under a court's seizure hold")
    # then: that output says so (a wallet importing the file would otherwise unfreeze it); the others do not
    exported = spendable()
    assert exported[ref] is False and len(exported) > 1
    assert all(exported[other] for other in exported if other != ref)
    # and once unfrozen, it is spendable again
    utxo_unfreeze(utxo_id=coin.pk, actor=users["operator"], reason="hold lifted")
    assert spendable()[ref] is True


@pytest.mark.django_db
def test_compliance_reports_each_day_against_the_cap(
    clients: dict[str, Any], users: dict[str, Any], books: Books
) -> None:
    # given: the perimeter cap of 100 BTC is approved by two other policy admins
    policy_approve(version=books.draft, approver=users["policy_admin"])
    policy_approve(version=books.draft, approver=make_user("third-admin", "policy_admin"))
    query = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "policy": books.draft.policy_id}
    # when
    body = clients["auditor"].get("/api/v1/compliance/", query).json()
    as_csv = clients["auditor"].get("/api/v1/compliance/", query | {"format": "csv"})
    # then: one end-of-day row and one row per holdings change (blocks 101..104)
    days = [row for row in body["rows"] if row["kind"] == "day"]
    changes = [row for row in body["rows"] if row["kind"] == "change"]
    assert len(days) == 1
    assert [row["block_height"] for row in changes] == [101, 102, 103, 104]
    assert days[0]["holdings_sats"] == 10 * BTC - 1_000
    assert days[0]["limit_sats"] == 100 * BTC
    assert days[0]["margin_sats"] == 90 * BTC + 1_000
    assert days[0]["verdict"] == "allow"
    lines = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [int(line["holdings_sats"]) for line in lines] == [row["holdings_sats"] for row in body["rows"]]


@pytest.mark.django_db
def test_ledger_verification_reports_the_chain(clients: dict[str, Any], books: Books) -> None:
    # when
    body = clients["auditor"].get("/api/v1/ledger/verify/").json()
    last = clients["auditor"].get("/api/v1/ledger/transactions/", {"page": 1}).json()
    # then
    assert body["ok"] is True and body["balances_ok"] is True
    assert body["first_bad_sequence"] is None
    assert body["length"] == last["count"]
    assert body["head_hash"] == last["results"][-1]["hash"]


@pytest.mark.django_db
def test_transfer_detail_has_approvals_evaluations_and_audit(clients: dict[str, Any], books: Books) -> None:
    # given
    confirmed = books.transfers[0]
    # when
    body = clients["auditor"].get(f"/api/v1/transfers/{confirmed.pk}/").json()
    # then
    assert [approval["approver"] for approval in body["approvals"]] == ["approver-1", "approver-2"]
    assert body["quorum"]["approvals"] == 2
    gates = [evaluation["gate"] for evaluation in body["policy_evaluations"]]
    assert gates == list(
        PolicyEvaluation.objects.filter(subject_id=str(confirmed.pk))
        .order_by("created_at", "id")
        .values_list("gate", flat=True)
    )
    assert "posting" in gates
    assert [event["action"] for event in body["audit_events"]][:2] == ["transfer.create", "transfer.propose"]
    assert body["block_hash"] == block_hash(101)
    assert body["amount_btc"] == "5.00000000"


@pytest.mark.django_db
def test_dry_run_stores_nothing_and_can_judge_a_draft(clients: dict[str, Any], books: Books) -> None:
    # given: a 200 BTC inflow, against the draft 100 BTC perimeter cap
    before = PolicyEvaluation.objects.count()
    body = {
        "direction": "inbound",
        "category": "purchase",
        "amount_sats": 200 * BTC,
        "destination_wallet": books.cold.pk,
        "version": books.draft.pk,
    }
    # when
    judged = clients["auditor"].post("/api/v1/policies/evaluate/", body, format="json").json()
    in_force = (
        clients["auditor"]
        .post("/api/v1/policies/evaluate/", {k: v for k, v in body.items() if k != "version"}, format="json")
        .json()
    )
    # then
    assert judged["decision"] == "deny"
    assert judged["lines"][0]["rule_type"] == "holdings_cap"
    assert judged["lines"][0]["limit_sats"] == 100 * BTC
    # no version is in force: only the default quorum of two approvals applies
    assert in_force["decision"] == "needs_approval"
    assert in_force["required_approvals"] == 2
    assert all(line["rule_type"] != "holdings_cap" for line in in_force["lines"])
    assert PolicyEvaluation.objects.count() == before


@pytest.mark.django_db
def test_compliance_shows_a_reporting_obligation_met_by_a_period_attestation(
    clients: dict[str, Any], users: dict[str, Any]
) -> None:
    # given: a statement due within 30 days of 2026-03-01, met by an attestation made on day 2
    start = datetime(2026, 3, 1, tzinfo=UTC)
    draft = policy_create_draft(
        name="EO 14233 s.4",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "reporting_obligation", "params": {"within_days": 30}}],
        effective_from=start,
        author=users["policy_admin"],
    )
    policy_approve(version=draft, approver=make_user("second-admin", "policy_admin"))
    policy_approve(version=draft, approver=make_user("third-admin", "policy_admin"))
    attestation = PeriodAttestation.objects.create(
        network="regtest",
        from_height=1,
        to_height=9,
        verdict="compliant",
        net_accumulation_sats=0,
        statement={"format": "test"},
        statement_signature=statement_sign({"format": "test"}),
        created_by=users["policy_admin"],
        created_at=start + timedelta(days=1, hours=3),
    )
    query = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "policy": draft.policy_id}
    # when
    body = clients["auditor"].get("/api/v1/compliance/", query).json()
    # then: due on day 1, met on day 2 by the attestation
    standings = [(row["day"], row["obligation"]["status"]) for row in body["rows"]]
    assert standings == [("2026-03-01", "due"), ("2026-03-02", "met")]
    assert body["rows"][1]["obligation"]["met_by"]["id"] == attestation.pk
    assert body["rows"][0]["obligation"]["deadline"] == "2026-03-31T00:00:00+00:00"
