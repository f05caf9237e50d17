"""No N+1 queries: every list answers a full page of 100 items in a constant number of queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ledger.models import AccountType
from ledger.services import EntrySpec, account_create, post_transaction
from policy.models import PolicyBreach, PolicyEvaluation
from policy.services import policy_create_draft
from policy.types import PolicyScope
from reserve.custody.models import Agency, Wallet
from reserve.custody.services import wallet_register
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.reconciliation.models import Discrepancy, ReconciliationRun, RunStatus
from reserve.transfers.models import Transfer
from tests.reserve.api.conftest import BTC, Books
from tests.reserve.api.keys import SigningKey

ITEMS = 100
T0 = datetime(2026, 2, 1, tzinfo=UTC)


def many_wallets(books: Books, operator: Any) -> list[Wallet]:
    return [
        wallet_register(
            name=f"bulk-{index:03d}",
            agency=books.agency,
            kind="hot",
            network="regtest",
            addresses=[SigningKey(f"bulk {index}").p2wpkh_address],
            actor=operator,
        )
        for index in range(ITEMS)
    ]


def many_postings() -> None:
    cash = account_create(code="assets:test:cash", name="cash", account_type=AccountType.ASSET)
    equity = account_create(code="equity:test:capital", name="capital", account_type=AccountType.EQUITY)
    for index in range(ITEMS):
        post_transaction(
            idempotency_key=f"query-count-{index}",
            entries=[
                EntrySpec(account=cash, amount_sats=1_000 + index),
                EntrySpec(account=equity, amount_sats=-1_000 - index),
            ],
            kind="test",
            occurred_at=T0 + timedelta(minutes=index),
        )


def many_records(books: Books, users: dict[str, Any], wallets: list[Wallet]) -> None:
    Agency.objects.bulk_create(Agency(name=f"Agency {index:03d}") for index in range(ITEMS))
    Transfer.objects.bulk_create(
        Transfer(
            direction="inbound",
            category="donation",
            amount_sats=BTC + index,
            destination_wallet=wallet,
            proposer=users["operator"],
        )
        for index, wallet in enumerate(wallets)
    )
    for index in range(ITEMS):
        policy_create_draft(
            name=f"policy {index:03d}",
            scope=PolicyScope("wallet", wallets[index].pk),
            rules=[{"type": "holdings_cap", "params": {"max_sats": BTC}}],
            effective_from=T0,
            author=users["policy_admin"],
        )
    evaluations = PolicyEvaluation.objects.bulk_create(
        PolicyEvaluation(
            gate="observed",
            outcome="deny",
            change={},
            lines=[],
            versions=[],
            required_approvals=2,
            required_role="approver",
            approvals_counted=0,
            requested_at=T0,
            evaluated_at=T0,
            subject_type="reserve.transfer",
            subject_id=str(index),
        )
        for index in range(ITEMS)
    )
    PolicyBreach.objects.bulk_create(
        PolicyBreach(
            version=books.draft,
            rule_index=0,
            rule_type="holdings_cap",
            evaluation=evaluation,
            subject_type="reserve.transfer",
            subject_id=str(index),
            occurred_at=T0,
            reason="over the cap",
        )
        for index, evaluation in enumerate(evaluations)
    )
    runs = ReconciliationRun.objects.bulk_create(
        ReconciliationRun(
            wallet=wallet,
            trigger="task",
            status=RunStatus.SUCCEEDED,
            confirmation_depth=6,
            height=104,
            finished_at=timezone.now(),
        )
        for wallet in wallets
    )
    Discrepancy.objects.bulk_create(
        Discrepancy(run=run, wallet=run.wallet, kind="unrecorded_inflow", txid=f"{index:064x}", detail="seen on chain")
        for index, run in enumerate(runs)
    )
    challenges = ReserveProofChallenge.objects.bulk_create(
        ReserveProofChallenge(
            nonce=uuid.uuid4().hex * 2,
            network="regtest",
            addresses=[],
            message="m",
            created_at=timezone.now(),
            expires_at=timezone.now() + timedelta(hours=1),
            created_by=users["operator"],
        )
        for _ in range(ITEMS)
    )
    ReserveProof.objects.bulk_create(
        ReserveProof(
            challenge=challenge,
            signatures=[],
            network="regtest",
            block_height=104,
            addresses=[],
            wallets=[],
            signed_total_sats=0,
            perimeter_total_sats=0,
            covers_perimeter=False,
            created_by=users["operator"],
        )
        for challenge in challenges
    )


# (path, the most queries a page may take): authentication (token, user), roles, count, page, prefetches.
LISTS = [
    ("/api/v1/agencies/", 6),
    ("/api/v1/wallets/", 6),
    ("/api/v1/transfers/", 6),
    ("/api/v1/ledger/transactions/", 8),
    ("/api/v1/ledger/accounts/", 8),
    ("/api/v1/ledger/accounts/?height=104", 9),
    ("/api/v1/policies/", 8),
    ("/api/v1/policy-evaluations/", 6),
    ("/api/v1/breaches/", 6),
    ("/api/v1/reconciliations/", 6),
    ("/api/v1/discrepancies/", 6),
    ("/api/v1/audit-events/", 6),
    ("/api/v1/reserve-proofs/", 6),
]


@pytest.mark.django_db
def test_lists_take_constant_queries_over_a_page_of_100(
    clients: dict[str, Any], users: dict[str, Any], books: Books, django_assert_max_num_queries: Any
) -> None:
    # given: more than a page of everything
    wallets = many_wallets(books, users["operator"])
    many_postings()
    many_records(books, users, wallets)
    client = clients["auditor"]
    for path, most in LISTS:
        # when
        with django_assert_max_num_queries(most):
            response = client.get(path)
        # then
        assert response.status_code == 200, (path, response.content[:200])
        assert len(response.json()["results"]) == ITEMS, path
        assert response.json()["count"] >= ITEMS, path


@pytest.mark.django_db
def test_reports_take_queries_independent_of_the_number_of_wallets(
    clients: dict[str, Any], users: dict[str, Any], books: Books, django_assert_max_num_queries: Any
) -> None:
    # given
    many_wallets(books, users["operator"])
    client = clients["auditor"]
    for path, most in [
        ("/api/v1/holdings/?height=104", 9),
        ("/api/v1/holdings/?group_by=category&as_of=2026-03-02T00:00:00Z", 9),
        ("/api/v1/holdings/?group_by=agency", 9),
        ("/api/v1/labels/", 9),  # the last one: which outputs are frozen
    ]:
        # when
        with django_assert_max_num_queries(most):
            response = client.get(path)
        # then
        assert response.status_code == 200, (path, response.content[:200])
