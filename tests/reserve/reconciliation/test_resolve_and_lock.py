"""Resolving discrepancies (roles, reasons, adjustments) and the per-wallet lock of the task."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from config.celery import app as config_app
from config.errors import Conflict, PermissionDenied, ValidationFailed
from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from reserve.audit.models import AuditEvent
from reserve.custody.services import agency_create, wallet_register
from reserve.outbox.models import OutboxMessage
from reserve.reconciliation.models import Discrepancy, ReconciliationRun
from reserve.reconciliation.services import discrepancy_resolve
from reserve.tasks import reconcile_all_wallets_task, reconcile_wallet_task
from tests.regtest.blocks import generate_to_address
from tests.regtest.keys import WalletKey
from tests.reserve.reconciliation.conftest import key_wallet
from tests.users import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(db: None) -> Any:
    operator = make_user("olga", "operator")
    agency = agency_create(name="Resolvers", kind="other", actor=operator)
    return key_wallet(operator, agency, "resolve-cold", WalletKey("resolve cold"), birthday_height=0)


def open_discrepancy(wallet: Any, **fields: Any) -> Discrepancy:
    return Discrepancy.objects.create(
        wallet=wallet, kind=fields.pop("kind", "amount_mismatch"), detail="chain and books differ", **fields
    )


def test_only_operators_resolve_and_a_reason_is_required(wallet):
    # given
    discrepancy = open_discrepancy(wallet, expected_sats=0, actual_sats=5_000)
    auditor, operator = make_user("aude", "auditor"), make_user("omar", "operator")

    # when / then: an auditor is refused, an empty reason is refused, nothing changes
    with pytest.raises(PermissionDenied):
        discrepancy_resolve(discrepancy=discrepancy, reason="seen", actor=auditor)
    with pytest.raises(ValidationFailed) as refused:
        discrepancy_resolve(discrepancy=discrepancy, reason="  ", actor=operator)
    assert refused.value.fields == {"reason": ["say why the discrepancy is resolved"]}
    with pytest.raises(ValidationFailed) as zero:
        discrepancy_resolve(discrepancy=discrepancy, reason="fix", actor=operator, adjustment_sats=0)
    assert "adjustment_sats" in zero.value.fields
    discrepancy.refresh_from_db()
    assert discrepancy.status == "open"


def test_resolution_with_an_adjustment_posts_it_audits_it_and_asks_for_a_new_run(wallet):
    # given: the chain holds 5_000 sats the books never saw
    discrepancy = open_discrepancy(wallet, expected_sats=0, actual_sats=5_000)
    operator = make_user("omar", "operator")

    # when
    resolved = discrepancy_resolve(
        discrepancy=discrepancy,
        reason="dust from an old sweep, confirmed on chain",
        actor=operator,
        adjustment_sats=5_000,
    )

    # then
    assert account_balance(account=wallet.ledger_account) == 5_000
    adjustment = resolved.adjustment
    assert adjustment is not None
    assert (adjustment.kind, adjustment.created_by_id) == ("reconciliation_adjustment", operator.pk)
    assert JournalTransaction.objects.filter(pk=adjustment.pk, txid__isnull=True).exists()
    event = AuditEvent.objects.get(action="discrepancy.resolve", object_id=str(discrepancy.pk))
    assert event.before is not None and event.after is not None
    assert (event.actor_id, event.before["status"], event.after["status"]) == (operator.pk, "open", "resolved")
    assert OutboxMessage.objects.filter(task_name="reserve.reconcile_wallet_task", args=[wallet.pk]).exists()
    with pytest.raises(Conflict):
        discrepancy_resolve(discrepancy=discrepancy, reason="twice", actor=operator, adjustment_sats=5_000)
    assert account_balance(account=wallet.ledger_account) == 5_000


@pytest.mark.integration
def test_a_second_run_of_a_wallet_while_one_holds_its_lock_does_nothing(segwit_chain, settings):
    # given: a wallet paid by the next block, and another session holding the wallet's lock
    settings.BITCOIN_RPC_URL = segwit_chain.node.rpc_url
    operator = make_user("olga", "operator")
    agency = agency_create(name="Lockers", kind="other", actor=operator)
    key = WalletKey("lock cold")
    wallet = key_wallet(operator, agency, "lock-cold", key, birthday_height=segwit_chain.source.block_count() + 1)
    generate_to_address(segwit_chain.source, 1, key.p2wpkh_address)
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"), dbname=params["dbname"]
    ) as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"reserve:reconcile:wallet:{wallet.pk}"])

        # when
        skipped = reconcile_wallet_task.apply(args=(wallet.pk,)).get()

        # then
        assert skipped == {"wallet_id": wallet.pk, "skipped": "a run of this wallet is in progress"}
        assert not ReconciliationRun.objects.filter(wallet=wallet).exists()

    # when: the lock is free again
    done = reconcile_wallet_task.apply(args=(wallet.pk,)).get()

    # then
    run = ReconciliationRun.objects.get(wallet=wallet)
    assert (done["run_id"], run.status, run.trigger) == (run.pk, "succeeded", "task")
    assert done["chain_balance_sats"] == done["ledger_balance_sats"] > 0


@pytest.mark.integration
def test_the_fan_out_runs_one_reconciliation_per_wallet_of_the_network(segwit_chain, settings):
    # given: two regtest wallets and one on testnet, which this node cannot reconcile
    settings.BITCOIN_RPC_URL = segwit_chain.node.rpc_url
    operator = make_user("olga", "operator")
    agency = agency_create(name="Fan-out", kind="other", actor=operator)
    birthday = segwit_chain.source.block_count()
    for n in range(2):
        key_wallet(operator, agency, f"fan-{n}", WalletKey(f"fan {n}"), birthday_height=birthday)
    wallet_register(
        name="fan-testnet",
        agency=agency,
        kind="cold",
        network="testnet",
        addresses=["tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"],
        actor=operator,
    )
    config_app.conf.task_always_eager = True
    try:
        # when
        fanned_out = reconcile_all_wallets_task.apply().get()
    finally:
        config_app.conf.task_always_eager = False

    # then
    assert fanned_out == 2
    runs = ReconciliationRun.objects.filter(status="succeeded")
    assert sorted(runs.values_list("wallet__name", flat=True)) == ["fan-0", "fan-1"]
    assert {run.height for run in runs} == {segwit_chain.source.block_count()}
