"""Approvers are told when something waits for them: an e-mail (Django's locmem backend here) to
each holder of the deciding permission but the proposer, and a webhook signed with HMAC-SHA256
to a receiver on 127.0.0.1; both through the outbox in the proposal's transaction, their tasks
retrying a failed delivery. Nothing leaves the machine."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core import mail

from policy.services import category_propose, policy_create_draft
from policy.types import PolicyScope
from reserve.compliance.pledge_services import pledge_make
from reserve.custody.membership import membership_propose
from reserve.custody.models import Wallet
from reserve.custody.services import agency_create, wallet_register
from reserve.imports.services import import_propose
from reserve.notifications.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature_valid
from reserve.outbox.models import OutboxMessage
from reserve.tasks import notify_email_task, notify_webhook_task
from reserve.transfers.services import transfer_create, transfer_propose
from tests.reserve.admin.conftest import BTC, DESCRIPTOR

pytestmark = pytest.mark.django_db

TASKS = {task.name: task for task in (notify_email_task, notify_webhook_task)}
SECRET = "a-test-secret-of-more-than-32-characters"


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    failures_left = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers.items()), body))
        status = 503 if Receiver.failures_left > 0 else 204
        Receiver.failures_left -= 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook(receiver: str, settings: Any) -> str:
    settings.APPROVER_WEBHOOK_URL = receiver
    settings.APPROVER_WEBHOOK_SECRET = SECRET
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Receiver.received, Receiver.failures_left = [], 0
    return receiver


@pytest.fixture
def people(operator: Any, approver: Any, approver2: Any, policy_admins: list[Any]) -> dict[str, Any]:
    for user, email in ((operator, "olga@example.test"), (approver, "ann@example.test"), (approver2, "")):
        user.email = email
        user.save()
    for number, admin in enumerate(policy_admins):
        admin.email = f"policy{number}@example.test"
        admin.save()
    return {"operator": operator, "approver": approver, "policy_admins": policy_admins}


@pytest.fixture
def wallet(operator: Any) -> Wallet:
    agency = agency_create(name="Ministry of Finance", kind="ministry", actor=operator)
    return wallet_register(
        name="cold-01",
        agency=agency,
        kind="cold",
        network="regtest",
        gap_limit=3,
        descriptors=[DESCRIPTOR],
        actor=operator,
    )


def deliver() -> list[Any]:
    """What the worker would do with each waiting outbox message: run its task here."""
    results = []
    for message in OutboxMessage.objects.filter(task_name__startswith="reserve.notify_").order_by("id"):
        results.append(TASKS[message.task_name].apply(args=message.args, kwargs=message.kwargs))
    return results


def test_a_proposed_transfer_mails_the_approvers_and_posts_a_signed_webhook(
    webhook: str, people: dict[str, Any], wallet: Wallet
) -> None:
    transfer = transfer_create(
        actor=people["operator"],
        direction="inbound",
        category="forfeiture",
        amount_sats=2 * BTC,
        destination_wallet=wallet,
        provenance_reference="Case 1",
    )
    # a draft waits for no one
    assert not OutboxMessage.objects.filter(task_name__startswith="reserve.notify_").exists()

    transfer_propose(transfer=transfer, actor=people["operator"])
    sent_from = int(time.time())
    results = deliver()
    sent_by = int(time.time())

    assert [result.state for result in results] == ["SUCCESS", "SUCCESS"]
    # the e-mail: to the approver with an address, never the proposer (who holds no approval right anyway)
    (email,) = mail.outbox
    assert email.to == ["ann@example.test"] and f"transfer {transfer.pk}" in email.subject
    assert "2.00000000 BTC" in email.body and "olga" in email.body
    # the webhook: the body as sent, signed over the timestamp and those bytes (recomputed here)
    ((headers, body),) = Receiver.received
    assert json.loads(body) == {
        "event": "approval.waiting",
        "kind": "transfer",
        "id": transfer.pk,
        "summary": f"Transfer {transfer.pk}: inbound forfeiture, 2.00000000 BTC",
        "proposer": "olga",
    }
    timestamp = headers[TIMESTAMP_HEADER]
    assert sent_from <= int(timestamp) <= sent_by  # stamped when sent, not when proposed
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert webhook_signature_valid(secret=SECRET, timestamp=timestamp, signature=headers[SIGNATURE_HEADER], body=body)


def test_a_pledge_made_tells_the_other_policy_administrators(
    webhook: str, people: dict[str, Any], wallet: Wallet
) -> None:
    # when: a policy administrator records a pledge, which waits for another's approval
    maker, *others = people["policy_admins"]
    pledge = pledge_make(
        actor=maker,
        kind="collateral",
        amount_sats=BTC,
        purpose="collateral for the bridge loan",
        reference="Loan 7",
        dated=datetime(2026, 3, 1, tzinfo=UTC).date(),
        wallet=wallet,
    )
    assert [result.state for result in deliver()] == ["SUCCESS", "SUCCESS"]
    # then: mailed to the other policy administrators (never the maker), and posted signed
    (email,) = mail.outbox
    assert sorted(email.to) == sorted(admin.email for admin in others) and maker.email not in email.to
    assert f"pledge {pledge.pk}" in email.subject and "1.00000000 BTC of wallet cold-01" in email.body
    ((headers, body),) = Receiver.received
    assert json.loads(body)["kind"] == "pledge" and json.loads(body)["id"] == pledge.pk
    assert webhook_signature_valid(
        secret=SECRET, timestamp=headers[TIMESTAMP_HEADER], signature=headers[SIGNATURE_HEADER], body=body
    )


def test_a_proposed_category_tells_the_other_policy_administrators(webhook: str, people: dict[str, Any]) -> None:
    # when: a policy administrator proposes a new term, which waits for two others' approvals
    author, *others = people["policy_admins"]
    category = category_propose(
        code="strategic_swap",
        kind="inflow",
        legal_reference="Reserve Act s. 4(2)",
        description="coins received in a swap approved by statute",
        author=author,
    )
    assert [result.state for result in deliver()] == ["SUCCESS", "SUCCESS"]
    # then: mailed to the others (never the author) and posted signed, naming the term
    (email,) = mail.outbox
    assert sorted(email.to) == sorted(admin.email for admin in others) and author.email not in email.to
    assert f"category {category.pk}" in email.subject and "strategic_swap" in email.body
    ((headers, body),) = Receiver.received
    assert (json.loads(body)["kind"], json.loads(body)["id"]) == ("category", category.pk)
    assert webhook_signature_valid(
        secret=SECRET, timestamp=headers[TIMESTAMP_HEADER], signature=headers[SIGNATURE_HEADER], body=body
    )


def test_a_proposed_membership_change_tells_the_approvers(webhook: str, people: dict[str, Any], wallet: Wallet) -> None:
    # when: an operator proposes taking the wallet out of the perimeter, which waits for a checker
    proposal = membership_propose(
        wallet=wallet, actor=people["operator"], in_perimeter=not wallet.in_perimeter, reason="Decree 12/2026"
    )
    assert [result.state for result in deliver()] == ["SUCCESS", "SUCCESS"]
    # then: mailed to the approver with an address (never the proposer), and posted signed
    (email,) = mail.outbox
    assert email.to == ["ann@example.test"] and f"wallet membership {proposal.pk}" in email.subject
    assert "Wallet cold-01: held by Ministry of Finance" in email.body and "Decree 12/2026" in email.body
    ((headers, body),) = Receiver.received
    assert (json.loads(body)["kind"], json.loads(body)["id"]) == ("wallet membership", proposal.pk)
    assert webhook_signature_valid(
        secret=SECRET, timestamp=headers[TIMESTAMP_HEADER], signature=headers[SIGNATURE_HEADER], body=body
    )


def test_a_crafted_replayed_or_unsigned_webhook_body_is_told_apart(webhook: str, people: Any, wallet: Wallet) -> None:
    transfer = transfer_create(
        actor=people["operator"],
        direction="inbound",
        category="forfeiture",
        amount_sats=BTC,
        destination_wallet=wallet,
        provenance_reference="Case 2",
    )
    transfer_propose(transfer=transfer, actor=people["operator"])
    deliver()
    ((headers, body),) = Receiver.received
    timestamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]

    def valid(**changes: Any) -> bool:
        fields = {"secret": SECRET, "timestamp": timestamp, "signature": signature, "body": body} | changes
        return webhook_signature_valid(**fields)

    assert valid()
    assert not valid(body=body.replace(b"1.00000000", b"9.00000000"))  # a crafted amount
    assert not valid(signature="")  # unsigned
    assert not valid(timestamp="")  # no timestamp
    assert not valid(timestamp=str(int(timestamp) + 1))  # the signature binds the timestamp
    assert not valid(secret="another-secret-of-more-than-32-characters")
    assert not valid(now=int(timestamp) + 301)  # replayed after the tolerance
    assert not valid(timestamp="١٢٣")  # non-ASCII digits


def test_a_failing_receiver_is_tried_again_and_the_mail_is_not_sent_twice(
    webhook: str, people: Any, wallet: Wallet
) -> None:
    Receiver.failures_left = 1
    transfer = transfer_create(
        actor=people["operator"],
        direction="inbound",
        category="forfeiture",
        amount_sats=BTC,
        destination_wallet=wallet,
        provenance_reference="Case 3",
    )
    transfer_propose(transfer=transfer, actor=people["operator"])

    email_result, webhook_result = deliver()

    # the webhook task retried after the 503 (eagerly here, with backoff under a worker) and then succeeded
    assert email_result.state == "SUCCESS" and len(mail.outbox) == 1
    assert [json.loads(body)["id"] for _headers, body in Receiver.received] == [transfer.pk, transfer.pk]
    assert webhook_result.state == "SUCCESS"


def test_an_import_batch_and_a_policy_version_notify_their_approvers(webhook: str, people: Any, wallet: Wallet) -> None:
    batch = import_propose(
        kind="transfers",
        data=(
            "occurred_at,direction,category,amount_btc,txid,block_height,destination_wallet,provenance_reference\n"
            f"2026-01-05T10:00:00Z,inbound,forfeiture,2,{'ab' * 32},100,cold-01,Case 1\n"
        ),
        actor=people["operator"],
    )
    author, *_others = people["policy_admins"]
    version = policy_create_draft(
        name="Reserve cap",
        scope=PolicyScope("perimeter"),
        rules=[{"type": "holdings_cap", "params": {"max_sats": 3 * BTC}}],
        effective_from=datetime(2027, 1, 1, tzinfo=UTC),
        author=author,
    )

    deliver()

    batch_mail, version_mail = mail.outbox
    assert batch_mail.to == ["ann@example.test"] and f"import batch {batch.pk}" in batch_mail.subject
    assert batch.file_sha256 in batch_mail.body
    # the version's other policy administrators, not its author
    assert version_mail.to == ["policy1@example.test", "policy2@example.test"]
    assert f"policy version {version.pk}" in version_mail.subject
    kinds = [(json.loads(body)["kind"], json.loads(body)["id"]) for _headers, body in Receiver.received]
    assert kinds == [("import batch", batch.pk), ("policy version", version.pk)]


def test_without_a_webhook_url_only_the_mail_is_enqueued(people: Any, wallet: Wallet, settings: Any) -> None:
    settings.APPROVER_WEBHOOK_URL = ""
    transfer = transfer_create(
        actor=people["operator"],
        direction="inbound",
        category="forfeiture",
        amount_sats=BTC,
        destination_wallet=wallet,
        provenance_reference="Case 4",
    )
    transfer_propose(transfer=transfer, actor=people["operator"])
    assert list(OutboxMessage.objects.filter(task_name__startswith="reserve.notify_").values_list("task_name")) == [
        ("reserve.notify_email_task",)
    ]
