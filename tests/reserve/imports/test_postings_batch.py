"""POST /api/v1/imports/postings/: a JSON batch of journal postings is a ledger import proposal.
Nothing posts until the quorum approves it (never the proposer); then all of it posts or none."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from ledger.models import Account, JournalTransaction
from ledger.selectors import account_balance
from ledger.services import EntrySpec, account_create, post_transaction
from reserve.custody.models import Wallet
from reserve.imports.models import ImportBatch, ImportStatus
from tests.reserve.api.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/postings/"


@pytest.fixture
def books() -> tuple[Account, Account]:
    return (
        account_create(code="assets:clearing:escrow", account_type="asset", non_negative=True),
        account_create(code="equity:opening", account_type="equity"),
    )


def posting(key: str, day: int, debit: str, credit: str, sats: int = 1_000, **extra: Any) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "occurred_at": f"2024-01-{day:02d}T00:00:00Z",
        "kind": "opening",
        "entries": [{"account": debit, "amount_sats": sats}, {"account": credit, "amount_sats": -sats}],
        **extra,
    }


def propose(user: Any, postings: list[dict[str, Any]], key: str | None = None) -> Any:
    return token_client(user).post(
        URL, {"postings": postings}, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4())
    )


def decide(user: Any, batch_id: int, file_sha256: str) -> Any:
    return token_client(user).post(
        f"/api/v1/imports/{batch_id}/approve/",
        {"file_sha256": file_sha256},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def test_a_batch_posts_only_on_the_quorum_never_by_its_proposer(
    maker_checker: Any, approver: Any, approver2: Any, books: tuple[Account, Account]
) -> None:
    escrow, opening = books
    batch = [posting(f"open-{day}", day, escrow.code, opening.code, sats=day * 100) for day in (1, 2, 3)]
    # when one person who both operates and approves proposes the batch
    proposed = propose(maker_checker, batch, key="batch-1")
    # then it is a pending ledger import and the books hold nothing of it
    assert proposed.status_code == 201, proposed.json()
    body = proposed.json()
    assert (body["kind"], body["status"], body["filename"]) == ("ledger", "pending_approval", "postings.json")
    assert len(body["rows"]) == 6
    assert not JournalTransaction.objects.exists()
    # and a retry of the request is the same proposal, not a second one
    assert propose(maker_checker, batch, key="batch-1").json()["id"] == body["id"]
    assert ImportBatch.objects.count() == 1
    # when the proposer approves their own batch, over the API and as raw SQL as the service role
    own = decide(maker_checker, body["id"], body["file_sha256"])
    assert own.status_code == 403 and "approver" in own.json()["error"]["fields"]
    with pytest.raises(DatabaseError, match="proposer"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reserve_importapproval (batch_id, approver_id, decision, file_sha256, comment, at)"
            " VALUES (%s, %s, 'approve', %s, '', now())",
            [body["id"], maker_checker.pk, body["file_sha256"]],
        )
    # then nothing posts; one approver is not the quorum either
    assert decide(approver, body["id"], body["file_sha256"]).json()["status"] == "pending_approval"
    assert not JournalTransaction.objects.exists()
    # when the second approver approves, every transaction posts with its own key, as the proposer's
    done = decide(approver2, body["id"], body["file_sha256"])
    assert done.status_code == 200 and done.json()["status"] == ImportStatus.POSTED
    posted = JournalTransaction.objects.order_by("sequence")
    assert [journal.idempotency_key for journal in posted] == ["open-1", "open-2", "open-3"]
    assert {journal.created_by_id for journal in posted} == {maker_checker.pk}
    assert account_balance(account=escrow) == 600


def test_one_unbalanced_transaction_stores_nothing_and_is_named(operator: Any, books: tuple[Account, Account]) -> None:
    escrow, opening = books
    unbalanced = posting("b", 2, escrow.code, opening.code)
    unbalanced["entries"][1]["amount_sats"] = -999
    response = propose(operator, [posting("a", 1, escrow.code, opening.code), unbalanced])
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["postings[1].entries[1].amount_sats"]
    assert "unbalanced" in response.json()["error"]["message"]
    assert not ImportBatch.objects.exists() and not JournalTransaction.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p[1]["entries"][0].update(account="assets:nowhere"), "postings[1].entries[0].account"),
        (lambda p: p[1]["entries"][0].update(amount_sats="1000"), "postings[1].entries[0].amount_sats"),
        (lambda p: p[1].update(occurred_at="2023-12-31T00:00:00Z"), "postings[1].occurred_at"),
        (lambda p: p[1].update(idempotency_key="a"), "postings[1].idempotency_key"),
        (lambda p: p[1].update(idempotency_key="observed:forged"), "postings[1].idempotency_key"),
        (lambda p: p[1].update(block_hash="zz"), "postings[1].block_hash"),
        (lambda p: p[1].update(surprise=1), "postings[1].surprise"),
        (lambda p: p[1].update(entries=p[1]["entries"][:1]), "postings[1].entries"),
    ],
)
def test_bad_input_is_a_400_naming_the_posting_and_field(
    operator: Any, books: tuple[Account, Account], change: Any, field: str
) -> None:
    escrow, opening = books
    batch = [posting("a", 1, escrow.code, opening.code), posting("b", 2, escrow.code, opening.code)]
    change(batch)
    response = propose(operator, batch)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert not ImportBatch.objects.exists()


def test_a_key_the_books_hold_with_another_payload_is_a_409_and_a_reused_request_key_too(
    operator: Any, books: tuple[Account, Account]
) -> None:
    escrow, opening = books
    post_transaction(
        idempotency_key="taken",
        entries=[EntrySpec(account=escrow, amount_sats=5), EntrySpec(account=opening, amount_sats=-5)],
        kind="opening",
    )
    held = propose(
        operator, [posting("fresh", 1, escrow.code, opening.code), posting("taken", 2, escrow.code, opening.code)]
    )
    assert held.status_code == 409
    assert list(held.json()["error"]["fields"]) == ["postings[1].idempotency_key"]
    # the request's Idempotency-Key replayed with another body is refused, not a silent success
    assert propose(operator, [posting("x", 1, escrow.code, opening.code)], key="k").status_code == 201
    replayed = propose(operator, [posting("y", 1, escrow.code, opening.code)], key="k")
    assert replayed.status_code == 409 and "Idempotency-Key" in replayed.json()["error"]["fields"]
    assert ImportBatch.objects.count() == 1


def test_who_may_propose_and_what_a_batch_may_not_touch(
    operator: Any, approver: Any, approver2: Any, auditor: Any, books: tuple[Account, Account], cold_wallet: Wallet
) -> None:
    escrow, opening = books
    batch = [posting("a", 1, escrow.code, opening.code)]
    # approvers and auditors propose nothing
    for user in (approver, auditor):
        assert propose(user, batch).status_code == 403
    # reserve bitcoin in a custody wallet moves only as a transfer, which the policy judges
    around = propose(operator, [posting("w", 1, cold_wallet.ledger_account.code, opening.code)])
    assert around.status_code == 400
    assert list(around.json()["error"]["fields"]) == ["postings[0].entries[0].account"]
    assert not ImportBatch.objects.exists()
    # a batch that overdraws a non-negative account at the quorum posts none of its transactions
    overdraft = [
        posting("in", 1, escrow.code, opening.code, sats=100),
        posting("out", 2, opening.code, escrow.code, sats=101),
    ]
    body = propose(operator, overdraft).json()
    decide(approver, body["id"], body["file_sha256"])
    refused = decide(approver2, body["id"], body["file_sha256"]).json()
    assert refused["status"] == ImportStatus.REFUSED
    assert not JournalTransaction.objects.exists()
