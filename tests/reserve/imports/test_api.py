"""Import batches over the API: read by every role, decided by approvers by the file hash, in the
one error shape; the proposer is refused and nothing posts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reserve.custody.models import Wallet
from reserve.imports.models import ImportKind, ImportStatus
from reserve.imports.services import import_propose
from reserve.transfers.models import Transfer
from tests.reserve.api.conftest import token_client
from tests.reserve.conftest import fake_hash

pytestmark = pytest.mark.django_db


def text(cold: Wallet) -> str:
    return (
        "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,provenance_reference\n"
        f"2025-01-10T10:00:00Z,inbound,forfeiture,1.5,{fake_hash('a1')},800000,{cold.name},Order 1\n"
    )


def post(user: Any, path: str, body: dict[str, Any]) -> Any:
    return token_client(user).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def test_approvers_decide_by_the_hash_and_the_proposer_cannot(
    maker_checker: Any, approver: Any, approver2: Any, auditor: Any, cold_wallet: Wallet
) -> None:
    # given
    batch = import_propose(kind=ImportKind.TRANSFERS, data=text(cold_wallet), actor=maker_checker)
    url = f"/api/v1/imports/{batch.pk}/approve/"
    # when / then: every role reads it, rows included
    detail = token_client(auditor).get(f"/api/v1/imports/{batch.pk}/")
    assert detail.status_code == 200
    assert detail.json()["file_sha256"] == batch.file_sha256
    assert detail.json()["rows"][0]["line"] == 2
    assert token_client(auditor).get("/api/v1/imports/?status=pending_approval").json()["count"] == 1
    # when / then: the proposer, a malformed hash, another hash
    own = post(maker_checker, url, {"file_sha256": batch.file_sha256})
    assert own.status_code == 403 and "approver" in own.json()["error"]["fields"]
    malformed = post(approver, url, {"file_sha256": "not a hash"})
    assert malformed.status_code == 400 and "file_sha256" in malformed.json()["error"]["fields"]
    other = post(approver, url, {"file_sha256": "0" * 64})
    assert other.status_code == 409 and "file_sha256" in other.json()["error"]["fields"]
    assert post(auditor, url, {"file_sha256": batch.file_sha256}).status_code == 403
    assert not batch.approvals.exists()
    assert not Transfer.objects.exists()
    # when: two approvers
    assert post(approver, url, {"file_sha256": batch.file_sha256}).json()["status"] == "pending_approval"
    done = post(approver2, url, {"file_sha256": batch.file_sha256})
    # then
    assert done.status_code == 200 and done.json()["status"] == ImportStatus.POSTED
    assert Transfer.objects.count() == 1
    assert post(approver2, url, {"file_sha256": batch.file_sha256}).status_code == 409
    assert Transfer.objects.count() == 1


def test_a_rejection_over_the_api_needs_a_reason(approver: Any, operator: Any, cold_wallet: Wallet) -> None:
    batch = import_propose(kind=ImportKind.TRANSFERS, data=text(cold_wallet), actor=operator)
    url = f"/api/v1/imports/{batch.pk}/reject/"
    silent = post(approver, url, {"file_sha256": batch.file_sha256})
    assert silent.status_code == 400 and "comment" in silent.json()["error"]["fields"]
    said = post(approver, url, {"file_sha256": batch.file_sha256, "comment": "not our case"})
    assert said.status_code == 200 and said.json()["status"] == ImportStatus.REJECTED
    assert not Transfer.objects.exists()
